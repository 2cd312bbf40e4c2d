package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;
import java.util.Set;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUstream;

/**
 * Kernel launches with programmatic dependent launch: {@code cuLaunchKernelEx} with the
 * programmatic stream serialization attribute, so a kernel's blocks may start while the kernel
 * before it in the stream still runs, issue their first weight loads, and wait inside the kernel
 * ({@code qc::pdl_wait}, common.cuh) for that kernel's results. {@link Launcher} makes them only
 * while a decode pass is captured into a CUDA graph, where each becomes a programmatic edge between
 * two kernel nodes. At batch 1 a decode step is about 140 kernels, each mostly a weight stream, and
 * without it every kernel boundary drains one stream before the next starts.
 *
 * <p>JCuda 12.0.0 has no {@code cuLaunchKernelEx}, so it is called from the driver library through
 * the JDK's foreign function API, looked up reflectively so the code compiles for Java 21 (where
 * that API is a preview) and simply is not used where the JDK or the driver lacks it. Pointers go
 * down as 64-bit integers (the x86-64 and AArch64 calling conventions pass both alike), so one
 * {@code invokeExact} per launch needs no foreign-memory objects: the launch record, the attribute
 * and the kernel's argument values are written into one native buffer allocated once.
 *
 * <p>Only the kernels in {@link #KERNELS} (by name or prefix) call {@code pdl_wait} before touching
 * what earlier kernels write; any other kernel launched this way could race its predecessor, so
 * {@link Launcher} launches only those through here.
 */
final class DependentLaunch {
    /**
     * Kernels (a name, or a prefix ending in '_') launched as dependent launches: every GEMV (gemv.cu),
     * each of which waits (qc::pdl_wait) before it reads an activation or writes anything.
     * DependentLaunchTest checks that against the CUDA sources.
     *
     * <p>The decode attention kernels wait too and let the next kernel launch early, but are launched
     * as before: on an H100 with the 7B, launched dependently, batch 1 at 8K context fell from 175.8
     * to 173.1 tok/s (at 128 tokens it rose from 185.5 to 188.0). Launched early, the next kernel's
     * blocks issue their first weight loads while the split attention still streams its keys and
     * values, and take bandwidth from it. The o_proj GEMV after them still starts early, over the
     * short combine at long context and over the one-block-a-head attention at short context.
     */
    static final Set<String> KERNELS = Set.of("gemv_");

    /** CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION (cuda.h). */
    static final int ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;
    // Native buffer layout: CUlaunchConfig (56 bytes) at 0, one CUlaunchAttribute (72 bytes) at
    // ATTR_AT, the kernel-parameter pointer array at PARAMS_AT, the argument values (8 bytes each) at VALUES_AT.
    private static final int ATTR_AT = 64;
    private static final int PARAMS_AT = 256;
    private static final int VALUES_AT = 1024;
    private static final int MAX_ARGS = (VALUES_AT - PARAMS_AT) / 8;
    private static final int BYTES = VALUES_AT + 8 * MAX_ARGS;

    private final MethodHandle launchKernelEx;  // (config, function, params, extra) -> CUresult, pointers as long
    private final MethodHandle nativePointer;   // NativePointerObject -> long
    private final MethodHandle byteOffset;      // Pointer -> long
    private final Object memory;                // the MemorySegment behind buffer, kept reachable
    private final ByteBuffer buffer;
    private final long address;

    private DependentLaunch(MethodHandle launchKernelEx, MethodHandle nativePointer, MethodHandle byteOffset, Object memory,
                            ByteBuffer buffer, long address) {
        this.launchKernelEx = launchKernelEx;
        this.nativePointer = nativePointer;
        this.byteOffset = byteOffset;
        this.memory = memory;
        this.buffer = buffer;
        this.address = address;
    }

    /** Whether {@code kernel} waits for its predecessor itself, so may be launched through here. */
    static boolean takes(String kernel) {
        for (String k : KERNELS) {
            if (k.endsWith("_") ? kernel.startsWith(k) : kernel.equals(k)) return true;
        }
        return false;
    }

    /**
     * The launcher, or empty where the JDK has no foreign function API or the driver no
     * {@code cuLaunchKernelEx}; {@code why} receives the reason then.
     */
    static Optional<DependentLaunch> load(java.util.function.Consumer<String> why) {
        try {
            Class<?> linkerClass = Class.forName("java.lang.foreign.Linker");
            Class<?> arenaClass = Class.forName("java.lang.foreign.Arena");
            Class<?> lookupClass = Class.forName("java.lang.foreign.SymbolLookup");
            Class<?> segmentClass = Class.forName("java.lang.foreign.MemorySegment");
            Class<?> layoutClass = Class.forName("java.lang.foreign.MemoryLayout");
            Class<?> valueLayoutClass = Class.forName("java.lang.foreign.ValueLayout");
            Class<?> descriptorClass = Class.forName("java.lang.foreign.FunctionDescriptor");
            Class<?> optionClass = Class.forName("java.lang.foreign.Linker$Option");
            Object arena = arenaClass.getMethod("ofAuto").invoke(null);
            Object lookup = lookupClass.getMethod("libraryLookup", String.class, arenaClass).invoke(null, "libcuda.so.1", arena);
            Optional<?> symbol = (Optional<?>) lookupClass.getMethod("find", String.class).invoke(lookup, "cuLaunchKernelEx");
            if (symbol.isEmpty()) {
                why.accept("the driver library has no cuLaunchKernelEx");
                return Optional.empty();
            }
            Object jInt = valueLayoutClass.getField("JAVA_INT").get(null);
            Object jLong = valueLayoutClass.getField("JAVA_LONG").get(null);
            Object args = Array.newInstance(layoutClass, 4);
            for (int i = 0; i < 4; i++) Array.set(args, i, jLong);
            Object descriptor = descriptorClass.getMethod("of", layoutClass, args.getClass()).invoke(null, jInt, args);
            Object linker = linkerClass.getMethod("nativeLinker").invoke(null);
            Object noOptions = Array.newInstance(optionClass, 0);
            MethodHandle h = (MethodHandle) linkerClass.getMethod("downcallHandle", segmentClass, descriptorClass,
                    noOptions.getClass()).invoke(linker, symbol.get(), descriptor, noOptions);
            h = h.asType(MethodType.methodType(int.class, long.class, long.class, long.class, long.class));
            Object memory = arenaClass.getMethod("allocate", long.class, long.class).invoke(arena, (long) BYTES, 16L);
            ByteBuffer buffer = ((ByteBuffer) segmentClass.getMethod("asByteBuffer").invoke(memory)).order(ByteOrder.nativeOrder());
            long address = (long) segmentClass.getMethod("address").invoke(memory);
            Method np = NativePointerObject.class.getDeclaredMethod("getNativePointer");
            np.setAccessible(true);
            Method off = Pointer.class.getDeclaredMethod("getByteOffset");
            off.setAccessible(true);
            MethodHandles.Lookup l = MethodHandles.lookup();
            return Optional.of(new DependentLaunch(h, l.unreflect(np), l.unreflect(off), memory, buffer, address));
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            why.accept("no foreign function access to the driver (" + e + ")");
            return Optional.empty();
        }
    }

    /**
     * Runs {@code selftest_axpy} through {@link #launch} on the idle {@code stream} and checks every
     * output against {@link KernelSelfTest#expected}: the call into the driver, the launch record and
     * the argument marshalling, proven once at load before any graph depends on them. Null when it
     * passed, else what went wrong.
     */
    String selfTest(KernelModule module, CUstream stream) {
        float[] x = new float[1000];
        for (int i = 0; i < x.length; i++) x[i] = 0.25f * i - 7f;
        float a = 1.5f;
        try {
            CUfunction f = module.function(KernelSelfTest.KERNEL);
            float[] got = KernelSelfTest.runWith(stream, x, a,
                    (grid, block, args) -> launch(KernelSelfTest.KERNEL, f, grid, 1, 1, block, 0, stream, args));
            float[] want = KernelSelfTest.expected(x, a);
            for (int i = 0; i < x.length; i++) {
                if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(want[i])) {
                    return "selftest_axpy through cuLaunchKernelEx gave " + got[i] + " at " + i + ", not " + want[i];
                }
            }
            return null;
        } catch (RuntimeException e) {
            return "selftest_axpy through cuLaunchKernelEx failed: " + e.getMessage();
        }
    }

    /** As {@code cuLaunchKernel} of {@code f} with {@code args} ({@link Launcher}'s kinds, already checked), on {@code stream}. */
    void launch(String kernel, CUfunction f, int gridX, int gridY, int gridZ, int block, int sharedBytes, CUstream stream,
                Object[] args) {
        if (args.length > MAX_ARGS) {
            throw new IllegalArgumentException("kernel " + kernel + " has " + args.length + " arguments, over " + MAX_ARGS);
        }
        ByteBuffer b = buffer;
        b.putInt(0, gridX).putInt(4, gridY).putInt(8, gridZ).putInt(12, block).putInt(16, 1).putInt(20, 1)
                .putInt(24, sharedBytes).putInt(28, 0);
        b.putLong(32, handle(stream)).putLong(40, address + ATTR_AT).putInt(48, 1).putInt(52, 0);
        b.putInt(ATTR_AT, ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION).putInt(ATTR_AT + 4, 0);
        b.putLong(ATTR_AT + 8, 0).putInt(ATTR_AT + 8, 1);  // value.programmaticStreamSerializationAllowed = 1
        for (int i = 0; i < args.length; i++) {
            int at = VALUES_AT + 8 * i;
            b.putLong(at, 0);
            Object a = args[i];
            if (a instanceof DeviceBuffer d) b.putLong(at, device(d.ptr()));
            else if (a instanceof CUdeviceptr p) b.putLong(at, device(p));
            else if (a instanceof Integer v) b.putInt(at, v);
            else if (a instanceof Long v) b.putLong(at, v);
            else if (a instanceof Float v) b.putFloat(at, v);
            else throw new IllegalArgumentException("kernel " + kernel + " argument " + i + " has unsupported type "
                    + (a == null ? "null" : a.getClass().getName()));
            b.putLong(PARAMS_AT + 8 * i, address + at);
        }
        int result;
        try {
            result = (int) launchKernelEx.invokeExact(address, handle(f), address + PARAMS_AT, 0L);
        } catch (Throwable t) {
            throw new IllegalStateException("cuLaunchKernelEx(" + kernel + ") could not be called", t);
        }
        check(result, "cuLaunchKernelEx(" + kernel + ", grid " + gridX + "x" + gridY + "x" + gridZ + ", block " + block
                + ", shared " + sharedBytes + ", programmatic stream serialization)");
    }

    private long handle(NativePointerObject o) {
        try {
            return (long) nativePointer.invokeExact(o);
        } catch (Throwable t) {
            throw new IllegalStateException("cannot read a JCuda handle", t);
        }
    }

    private long device(CUdeviceptr p) {
        try {
            return (long) nativePointer.invokeExact((NativePointerObject) p) + (long) byteOffset.invokeExact((Pointer) p);
        } catch (Throwable t) {
            throw new IllegalStateException("cannot read a JCuda device pointer", t);
        }
    }
}

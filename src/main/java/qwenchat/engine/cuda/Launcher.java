package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureStatus;
import jcuda.driver.JCudaDriver;

/**
 * Launches kernels of a {@link KernelModule} on a stream. Arguments are given in the kernel's
 * parameter order as {@link DeviceBuffer}, {@link CUdeviceptr}, {@link Integer}, {@link Long} or
 * {@link Float}; a mismatch is a bug here, so it is reported with the kernel and argument index.
 */
public final class Launcher {
    private final KernelModule module;
    private final CUstream stream;
    /** Launches {@link DependentLaunch#takes} kernels inside graph captures as dependent launches; null: none. */
    private final DependentLaunch dependent;

    public Launcher(KernelModule module, CUstream stream) {
        this(module, stream, null);
    }

    Launcher(KernelModule module, CUstream stream, DependentLaunch dependent) {
        this.module = module;
        this.stream = stream;
        this.dependent = dependent;
    }

    /** Whether kernels that wait for their predecessor themselves are launched as dependent launches. */
    boolean dependentLaunches() {
        return dependent != null;
    }

    public KernelModule module() {
        return module;
    }

    public CUstream stream() {
        return stream;
    }

    public void launch(String kernel, int gridX, int gridY, int gridZ, int block, int sharedBytes, Object... args) {
        if (gridX <= 0 || gridY <= 0 || gridZ <= 0) {
            throw new IllegalArgumentException("kernel " + kernel + " launched with an empty grid " + gridX + "x" + gridY + "x" + gridZ);
        }
        boolean asDependent = dependent != null && DependentLaunch.takes(kernel) && capturing();
        Pointer params = asDependent ? null : Pointer.to(pack(kernel, args));  // DependentLaunch packs its own
        KernelTimer timer = module.timer();
        if (timer != null) timer.before(kernel, stream);
        if (asDependent) {
            dependent.launch(kernel, module.function(kernel), gridX, gridY, gridZ, block, sharedBytes, stream, args);
        } else {
            check(JCudaDriver.cuLaunchKernel(module.function(kernel), gridX, gridY, gridZ, block, 1, 1, sharedBytes,
                    stream, params, null), "cuLaunchKernel(" + kernel + ", grid " + gridX + "x" + gridY + "x" + gridZ
                    + ", block " + block + ", shared " + sharedBytes + ")");
        }
        if (timer != null) timer.after(stream);
    }

    /**
     * Whether the stream is being captured into a CUDA graph: only there are dependent launches made,
     * because in a graph the driver turns them into programmatic edges between kernel nodes alone,
     * whereas on a live stream a copy or event between two kernels would leave the order unclear.
     */
    private boolean capturing() {
        int[] status = new int[1];
        check(JCudaDriver.cuStreamIsCapturing(stream, status), "cuStreamIsCapturing");
        return status[0] == CUstreamCaptureStatus.CU_STREAM_CAPTURE_STATUS_ACTIVE;
    }

    private static NativePointerObject[] pack(String kernel, Object[] args) {
        NativePointerObject[] out = new NativePointerObject[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            if (a instanceof DeviceBuffer b) out[i] = Pointer.to(b.ptr());
            else if (a instanceof CUdeviceptr p) out[i] = Pointer.to(p);
            else if (a instanceof Integer v) out[i] = Pointer.to(new int[] {v});
            else if (a instanceof Long v) out[i] = Pointer.to(new long[] {v});
            else if (a instanceof Float v) out[i] = Pointer.to(new float[] {v});
            else {
                throw new IllegalArgumentException("kernel " + kernel + " argument " + i + " has unsupported type "
                        + (a == null ? "null" : a.getClass().getName()));
            }
        }
        return out;
    }
}

package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.locks.ReentrantLock;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;
import qwenchat.engine.EngineException;

/**
 * Owns one CUDA context and its stream, and lets one thread at a time use them. A driver context is
 * current per thread, so {@link #call} takes the context's lock, makes the context current on the
 * calling thread and runs the work there: no call ever runs against the wrong (or no) context,
 * whichever thread the caller is, and the caller waits for nobody but another holder. A step needs no
 * hand-off to another thread and back, which cost tens of microseconds a step in wake-ups.
 *
 * <p>Virtual threads are the exception: one may move to another carrier thread at any blocking
 * point inside the work, leaving the context current on the old one, so their work runs on the
 * context's own worker thread and they block until it is done. Exceptions thrown by the work are
 * rethrown to the caller unchanged either way.
 */
public final class CudaContext implements AutoCloseable {

    /** Held by whichever thread is using the context; fair, so a waiting caller is not overtaken by a busy loop. */
    private final ReentrantLock owner = new ReentrantLock(true);
    /** Runs the work of virtual threads. */
    private final ExecutorService worker;
    private CUcontext context;
    private CUdevice device;
    private CUstream stream;
    private String deviceName;
    private int ccMajor;
    private int ccMinor;
    private int driverVersion;
    private long totalMemory;
    private int multiprocessors;
    private volatile boolean closed;

    private CudaContext(int ordinal) {
        worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "cuda-worker-" + ordinal);
            t.setDaemon(true);
            return t;
        });
    }

    /** Initialises the driver and creates a context on device {@code ordinal}. */
    public static CudaContext create(int ordinal) {
        CudaContext ctx = new CudaContext(ordinal);
        try {
            ctx.call(() -> {
                ctx.init(ordinal);
                return null;
            });
        } catch (RuntimeException | Error e) {
            ctx.worker.shutdownNow();
            throw e;
        }
        return ctx;
    }

    private void init(int ordinal) {
        JCudaDriver.setExceptionsEnabled(false);
        check(JCudaDriver.cuInit(0), "cuInit(0)");
        int[] count = new int[1];
        check(JCudaDriver.cuDeviceGetCount(count), "cuDeviceGetCount");
        if (ordinal < 0 || ordinal >= count[0]) {
            throw new EngineException("CUDA device " + ordinal + " does not exist (" + count[0] + " device(s) present)");
        }
        device = new CUdevice();
        check(JCudaDriver.cuDeviceGet(device, ordinal), "cuDeviceGet(" + ordinal + ")");
        byte[] name = new byte[256];
        check(JCudaDriver.cuDeviceGetName(name, name.length, device), "cuDeviceGetName");
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        deviceName = new String(name, 0, len, StandardCharsets.UTF_8);
        ccMajor = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, "COMPUTE_CAPABILITY_MAJOR");
        ccMinor = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, "COMPUTE_CAPABILITY_MINOR");
        multiprocessors = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, "MULTIPROCESSOR_COUNT");
        long[] total = new long[1];
        check(JCudaDriver.cuDeviceTotalMem(total, device), "cuDeviceTotalMem");
        totalMemory = total[0];
        int[] version = new int[1];
        check(JCudaDriver.cuDriverGetVersion(version), "cuDriverGetVersion");
        driverVersion = version[0];
        context = new CUcontext();
        check(JCudaDriver.cuCtxCreate(context, 0, device), "cuCtxCreate(device " + ordinal + ")");
        stream = new CUstream();
        check(JCudaDriver.cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    }

    private int attribute(int attribute, String name) {
        int[] v = new int[1];
        check(JCudaDriver.cuDeviceGetAttribute(v, attribute, device), "cuDeviceGetAttribute(" + name + ")");
        return v[0];
    }

    /**
     * Runs {@code work} with the context current and waits for it: on the calling thread, or for a
     * virtual thread on the worker thread. Re-entrant.
     */
    public <T> T call(Callable<T> work) {
        if (owner.isHeldByCurrentThread()) return invoke(work);
        if (Thread.currentThread().isVirtual()) return onWorker(work);
        return holding(work);
    }

    /** Takes the lock, makes the context current on this thread, and runs {@code work}. */
    private <T> T holding(Callable<T> work) {
        owner.lock();
        try {
            if (closed) throw new EngineException("the CUDA context is closed");
            // Null only while create() runs init, which makes the new context current itself.
            if (context != null) check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
            return invoke(work);
        } finally {
            owner.unlock();
        }
    }

    private <T> T onWorker(Callable<T> work) {
        Future<T> f;
        try {
            f = worker.submit(() -> holding(work));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            throw new EngineException("the CUDA context is closed", e);
        }
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EngineException("interrupted while waiting for the CUDA worker thread", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException re) throw re;
            if (cause instanceof Error err) throw err;
            throw new EngineException("CUDA work failed: " + cause, cause);
        }
    }

    /** {@link #call} for work without a result. */
    public void run(Runnable work) {
        call(() -> {
            work.run();
            return null;
        });
    }

    private static <T> T invoke(Callable<T> work) {
        try {
            return work.call();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new EngineException("CUDA work failed: " + e.getMessage(), e);
        }
    }

    /** Throws unless the caller is inside {@link #call}: device objects are only touched there. */
    public void requireOwner() {
        if (!owner.isHeldByCurrentThread()) {
            throw new IllegalStateException("CUDA call outside CudaContext.call (" + Thread.currentThread().getName() + ")");
        }
    }

    /** The context's one stream; all engine work is ordered on it. */
    public CUstream stream() {
        return stream;
    }

    public void synchronize() {
        requireOwner();
        check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    /** Free and total device memory in bytes. */
    public long[] memoryInfo() {
        requireOwner();
        long[] free = new long[1];
        long[] total = new long[1];
        check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
        return new long[] {free[0], total[0]};
    }

    public String deviceName() {
        return deviceName;
    }

    public String computeCapability() {
        return ccMajor + "." + ccMinor;
    }

    public int computeCapabilityMajor() {
        return ccMajor;
    }

    public int multiprocessors() {
        return multiprocessors;
    }

    /** e.g. "13.0" */
    public String driverVersion() {
        return (driverVersion / 1000) + "." + (driverVersion % 1000) / 10;
    }

    public long totalMemory() {
        return totalMemory;
    }

    /** Destroys the stream and context, then stops the worker thread. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        try {
            call(() -> {
                try {
                    if (stream != null) JCudaDriver.cuStreamDestroy(stream);
                    if (context != null) check(JCudaDriver.cuCtxDestroy(context), "cuCtxDestroy");
                } finally {
                    closed = true;
                }
                return null;
            });
        } catch (EngineException e) {
            if (!closed) throw e;  // else another thread closed it first
        } finally {
            worker.shutdown();
        }
    }
}

package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;
import qwenchat.engine.EngineException;

/**
 * Owns one CUDA context and the single worker thread every driver call runs on. A driver context
 * is current per thread; pinning all work to one thread means no call ever runs against the wrong
 * (or no) context, whichever thread the caller is. Callers block in {@link #call} until the work
 * is done; exceptions thrown there are rethrown to the caller unchanged.
 */
public final class CudaContext implements AutoCloseable {

    private final ExecutorService worker;
    private volatile Thread workerThread;
    private CUcontext context;
    private CUdevice device;
    private CUstream stream;
    private String deviceName;
    private int ccMajor;
    private int ccMinor;
    private int driverVersion;
    private long totalMemory;
    private int multiprocessors;
    private boolean closed;

    private CudaContext(int ordinal) {
        worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "cuda-worker-" + ordinal);
            t.setDaemon(true);
            workerThread = t;
            return t;
        });
    }

    /** Initialises the driver and creates a context on device {@code ordinal}, on the worker thread. */
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

    /** Runs {@code work} on the context's thread and waits for it. Re-entrant from that thread. */
    public <T> T call(Callable<T> work) {
        if (Thread.currentThread() == workerThread) {
            return invoke(work);
        }
        Future<T> f;
        synchronized (this) {
            if (closed) throw new EngineException("the CUDA context is closed");
            f = worker.submit(() -> invoke(work));
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

    /** Throws unless the caller is the context's worker thread: device objects are only touched there. */
    public void requireWorkerThread() {
        if (Thread.currentThread() != workerThread) {
            throw new IllegalStateException("CUDA call outside the context's worker thread (" + Thread.currentThread().getName() + ")");
        }
    }

    /** The context's one stream; all engine work is ordered on it. */
    public CUstream stream() {
        return stream;
    }

    public void synchronize() {
        requireWorkerThread();
        check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    /** Free and total device memory in bytes. */
    public long[] memoryInfo() {
        requireWorkerThread();
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

    /** Destroys the stream and context on the worker thread, then stops the thread. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) return;
        }
        try {
            call(() -> {
                if (stream != null) JCudaDriver.cuStreamDestroy(stream);
                if (context != null) check(JCudaDriver.cuCtxDestroy(context), "cuCtxDestroy");
                return null;
            });
        } finally {
            synchronized (this) {
                closed = true;
            }
            worker.shutdown();
        }
    }
}

package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/** GPU time of work enqueued on one stream, between two CUDA events. Use inside {@link CudaContext#call}. */
final class StreamTimer implements AutoCloseable {
    private final CUstream stream;
    private final CUevent start = new CUevent();
    private final CUevent stop = new CUevent();

    StreamTimer(CUstream stream) {
        this.stream = stream;
        check(JCudaDriver.cuEventCreate(start, 0), "cuEventCreate");
        try {
            check(JCudaDriver.cuEventCreate(stop, 0), "cuEventCreate");
        } catch (RuntimeException e) {
            JCudaDriver.cuEventDestroy(start);
            throw e;
        }
    }

    /** Milliseconds the GPU spends on what {@code work} enqueues on the stream; waits for it. */
    float millis(Runnable work) {
        check(JCudaDriver.cuEventRecord(start, stream), "cuEventRecord");
        work.run();
        check(JCudaDriver.cuEventRecord(stop, stream), "cuEventRecord");
        check(JCudaDriver.cuEventSynchronize(stop), "cuEventSynchronize");
        float[] ms = new float[1];
        check(JCudaDriver.cuEventElapsedTime(ms, start, stop), "cuEventElapsedTime");
        return ms[0];
    }

    @Override
    public void close() {
        JCudaDriver.cuEventDestroy(start);
        JCudaDriver.cuEventDestroy(stop);
    }
}

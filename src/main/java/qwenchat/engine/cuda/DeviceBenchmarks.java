package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import jcuda.driver.CUevent;
import jcuda.driver.JCudaDriver;

/** Measurements of the card itself, for the benchmark's roofline numbers. Run on the context thread. */
public final class DeviceBenchmarks {
    private DeviceBenchmarks() {
    }

    /** Best-of-{@code reps} read bandwidth in GB/s streaming a {@code bytes} buffer with read_bandwidth. */
    public static double readBandwidth(CudaKernels k, long bytes, int reps) {
        int blocks = 132 * 8;
        try (DeviceBuffer src = DeviceBuffer.allocate("bandwidth source", bytes);
             DeviceBuffer sums = DeviceBuffer.allocate("bandwidth sums", 4L * blocks)) {
            src.zero();
            CUevent start = new CUevent();
            CUevent stop = new CUevent();
            check(JCudaDriver.cuEventCreate(start, 0), "cuEventCreate");
            check(JCudaDriver.cuEventCreate(stop, 0), "cuEventCreate");
            try {
                k.readBandwidth(src.ptr(), bytes, sums.ptr(), blocks);  // warm-up
                float best = Float.MAX_VALUE;
                for (int i = 0; i < reps; i++) {
                    check(JCudaDriver.cuEventRecord(start, k.launcher().stream()), "cuEventRecord");
                    k.readBandwidth(src.ptr(), bytes, sums.ptr(), blocks);
                    check(JCudaDriver.cuEventRecord(stop, k.launcher().stream()), "cuEventRecord");
                    check(JCudaDriver.cuEventSynchronize(stop), "cuEventSynchronize");
                    float[] ms = new float[1];
                    check(JCudaDriver.cuEventElapsedTime(ms, start, stop), "cuEventElapsedTime");
                    best = Math.min(best, ms[0]);
                }
                return bytes / (best * 1e-3) / 1e9;
            } finally {
                JCudaDriver.cuEventDestroy(start);
                JCudaDriver.cuEventDestroy(stop);
            }
        }
    }
}

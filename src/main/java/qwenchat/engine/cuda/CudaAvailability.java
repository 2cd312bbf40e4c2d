package qwenchat.engine.cuda;

import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * Whether the CUDA engine can run here: a driver, at least one device and a jar with kernels. The
 * probe never throws: JCuda's native library fails to load (UnsatisfiedLinkError) on machines
 * without libcuda, and any such failure just means "not available", with the reason kept.
 */
public record CudaAvailability(boolean available, String reason, int deviceCount) {

    /** The first answer, computed when {@link #probe} first asks (class initialization runs once per JVM). */
    private static final class FirstProbe {
        static final CudaAvailability ANSWER = probeNow();
    }

    /** Probes once per JVM; later calls return the first answer. */
    public static CudaAvailability probe() {
        return FirstProbe.ANSWER;
    }

    static CudaAvailability probeNow() {
        String kernels;
        try {
            kernels = KernelModule.missingReason();
        } catch (RuntimeException e) {
            kernels = "cannot read the kernel build info: " + e.getMessage();
        }
        int devices;
        try {
            JCudaDriver.setExceptionsEnabled(false);
            int r = JCudaDriver.cuInit(0);
            if (r != CUresult.CUDA_SUCCESS) {
                return new CudaAvailability(false, "cuInit failed: " + CUresult.stringFor(r), 0);
            }
            int[] count = new int[1];
            r = JCudaDriver.cuDeviceGetCount(count);
            if (r != CUresult.CUDA_SUCCESS) {
                return new CudaAvailability(false, "cuDeviceGetCount failed: " + CUresult.stringFor(r), 0);
            }
            devices = count[0];
        } catch (Throwable t) {
            return new CudaAvailability(false, "the CUDA driver could not be loaded: " + t, 0);
        }
        if (devices == 0) return new CudaAvailability(false, "no CUDA device is present", 0);
        if (kernels != null) return new CudaAvailability(false, kernels, devices);
        return new CudaAvailability(true, devices + " CUDA device(s) and kernels present", devices);
    }
}

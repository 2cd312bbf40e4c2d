package qwenchat.engine.cuda;

import org.junit.jupiter.api.Assumptions;

/** Shared set-up for {@code @Tag("gpu")} tests: skip cleanly where there is no device or no kernels. */
final class GpuTestSupport {
    private static CudaContext shared;

    private GpuTestSupport() {
    }

    static void assumeGpu() {
        CudaAvailability a = CudaAvailability.probe();
        Assumptions.assumeTrue(a.available(), () -> "CUDA not available: " + a.reason());
    }

    /** One context for all GPU tests of the JVM; creating a context costs ~100 ms. */
    static synchronized CudaContext context() {
        assumeGpu();
        if (shared == null) shared = CudaContext.create(0);
        return shared;
    }
}

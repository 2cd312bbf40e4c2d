package qwenchat.engine.cuda;

import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import qwenchat.demo.SyntheticCheckpoint;
import qwenchat.model.ModelConfig;

/** Shared set-up for {@code @Tag("gpu")} tests: skip cleanly where there is no device or no kernels. */
final class GpuTestSupport {
    private static CudaContext shared;

    private GpuTestSupport() {
    }

    static void assumeGpu() {
        CudaAvailability a = CudaAvailability.probe();
        Assumptions.assumeTrue(a.available(), () -> "CUDA not available: " + a.reason());
    }

    /**
     * Writes (or finds) a random checkpoint of {@code shape} in {@code dir} and returns its config,
     * failing unless the engine will run it through the tensor-core GEMMs and flash attention.
     */
    static ModelConfig tensorCoreCheckpoint(SyntheticCheckpoint.Shape shape, Path dir, long seed) {
        ModelConfig config = SyntheticCheckpoint.ensure(shape, dir, seed).config();
        if (!ForwardPass.gemmFits(config) || config.headDim() != PrefillAttention.HEAD_DIM) {
            throw new IllegalStateException("checkpoint " + shape + " must take the tensor-core path with flash attention");
        }
        return config;
    }

    /** {@code n} token ids drawn uniformly from the vocabulary, one {@code nextInt} each. */
    static int[] randomTokens(java.util.Random r, int n, int vocab) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(vocab);
        return t;
    }

    /** One context for all GPU tests of the JVM; creating a context costs ~100 ms. */
    static synchronized CudaContext context() {
        assumeGpu();
        if (shared == null) shared = CudaContext.create(0);
        return shared;
    }
}

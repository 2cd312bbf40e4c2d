package qwenchat.engine;

/**
 * Sizes fixed by the CUDA kernels that the rest of the service must respect, so a request the API
 * accepts can always be served by either engine. Each constant has a twin of the same name in
 * {@code src/main/cuda/limits.cuh}; {@code KernelSourcesTest} fails when the two drift apart.
 */
public final class KernelLimits {

    /** Most alternatives (top logprobs) reported per sampled token: the API's top_logprobs maximum. */
    public static final int MAX_TOP_LOGPROBS = 20;

    private KernelLimits() {
    }
}

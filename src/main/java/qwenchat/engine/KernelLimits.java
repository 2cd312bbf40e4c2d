package qwenchat.engine;

/**
 * Sizes fixed by the CUDA kernels that the rest of the service must respect, so a request the API
 * accepts can always be served by either engine. Each constant has a twin of the same name in
 * {@code src/main/cuda/limits.cuh}; {@code KernelSourcesTest} fails when the two drift apart.
 */
public final class KernelLimits {

    /** Most alternatives (top logprobs) reported per sampled token: the API's top_logprobs maximum. */
    public static final int MAX_TOP_LOGPROBS = 20;

    /** Tokens per flash-decoding split of the decode attention: the split buffers are sized by it. */
    public static final int ATTN_SPLIT = 64;

    /** Largest query-head group (query heads per KV head) the decode attention supports. */
    public static final int ATTN_MAX_GROUP = 16;

    private KernelLimits() {
    }
}

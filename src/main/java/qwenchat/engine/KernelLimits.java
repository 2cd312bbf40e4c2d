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

    /** Bit of a bias-lab mask row that makes the QKV epilogues skip the q_proj bias ({@link BiasMask#Q}). */
    public static final int BIAS_Q = 1;

    /** Bit that skips the k_proj bias ({@link BiasMask#K}). */
    public static final int BIAS_K = 2;

    /** Bit that skips the v_proj bias ({@link BiasMask#V}). */
    public static final int BIAS_V = 4;

    private KernelLimits() {
    }
}

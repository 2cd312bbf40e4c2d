package qwenchat.engine.cuda;

/**
 * Which kernel variants the decode path launches. Each switch keeps the previous kernels reachable,
 * so a variant that misbehaves on some device can be turned off alone.
 *
 * @param groupBuckets decode attention with register arrays sized for the model's query-head group
 *     (buckets of 4, 8 and 16 heads; attention_decode.cu) instead of the 16-wide kernel
 * @param fusedAttention decode attention in one launch: the last split block of a (row, KV head)
 *     combines the row's splits ({@code attn_fused_*}) instead of a separate {@code attn_combine}
 * @param foldedNorm on the GEMV route (up to {@link #FOLDED_NORM_MAX_ROWS} rows), the QKV, gate/up
 *     and lm_head GEMVs apply the preceding RMSNorm to the residual stream themselves instead of
 *     after a separate {@code rmsnorm_rows} launch (gemv.cu, the {@code *_norm} kernels)
 * @param mixedSteps a step's decode rows ride a prefill chunk's pass where the two take the prefill
 *     GEMM together ({@link ForwardPass#takesMixed}): one pass streams the weights once for both, the
 *     chunk's rows attend through flash attention and the decode rows through split attention,
 *     instead of a decode pass of their own after the chunk's
 */
public record DecodeKernels(boolean groupBuckets, boolean fusedAttention, boolean foldedNorm, boolean mixedSteps) {
    /** Largest pass whose GEMVs can fold the norm (the compiled {@code *_norm_bt*} tiles go up to 8). */
    public static final int FOLDED_NORM_MAX_ROWS = 8;

    /** Whether {@link #defaults()} uses the group-bucketed attention kernels. */
    public static final boolean GROUP_BUCKETS_DEFAULT = true;
    /**
     * Whether {@link #defaults()} fuses the attention combine into the split kernel. Off: on an H100 the
     * fused kernel's one combining block per (row, KV head) halved batch-1 decode at 8K context (146 to
     * 77 tok/s) for no gain at 128 tokens.
     */
    public static final boolean FUSED_ATTENTION_DEFAULT = false;
    /** Whether {@link #defaults()} folds RMSNorm into the batch-1..8 GEMVs. */
    public static final boolean FOLDED_NORM_DEFAULT = true;
    /**
     * Whether {@link #defaults()} runs decodes inside a prefill chunk's pass. A separate decode pass
     * streams all the weights again: on an H100 with the 7B, 16 decodes beside a 512-token chunk cost
     * a pass of about 7 ms of their own, against a few extra GEMM rows in the chunk's.
     */
    public static final boolean MIXED_STEPS_DEFAULT = true;

    public static DecodeKernels defaults() {
        return new DecodeKernels(GROUP_BUCKETS_DEFAULT, FUSED_ATTENTION_DEFAULT, FOLDED_NORM_DEFAULT, MIXED_STEPS_DEFAULT);
    }

    /** The kernels before these switches existed: 16-wide attention, a separate combine and norm, decodes in their own pass. */
    public static DecodeKernels original() {
        return new DecodeKernels(false, false, false, false);
    }

    /** These switches with decodes riding prefill chunks' passes or not. */
    public DecodeKernels withMixedSteps(boolean on) {
        return new DecodeKernels(groupBuckets, fusedAttention, foldedNorm, on);
    }

    /** Whether a GEMV pass of {@code rows} rows folds the norm into its projections. */
    boolean foldsNorm(int rows) {
        return foldedNorm && rows <= FOLDED_NORM_MAX_ROWS;
    }
}

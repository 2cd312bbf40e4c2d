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
 * @param tiledAttention split attention over passes of at least {@link #TILED_ATTENTION_MIN_ROWS}
 *     attention rows covers {@link #TILED_ATTENTION_TILES} tiles of {@link CudaKernels#ATTN_SPLIT}
 *     tokens per block ({@code attn_partial_tiled_*}) instead of one: fewer partials to write and
 *     combine, and one prologue (q, block-table rows) for all of a block's tiles. Not with
 *     {@code fusedAttention}, nor in a batch-invariant engine, whose splits must not depend on the batch
 */
public record DecodeKernels(boolean groupBuckets, boolean fusedAttention, boolean foldedNorm, boolean mixedSteps,
                            boolean tiledAttention) {
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
    /**
     * Whether {@link #defaults()} takes the tiled split attention for wide passes. Off until a GPU run
     * has measured it beside the one-tile kernels.
     */
    public static final boolean TILED_ATTENTION_DEFAULT = false;
    /** Attention rows from which a pass takes the tiled split attention (with {@link #tiledAttention}). */
    public static final int TILED_ATTENTION_MIN_ROWS = 64;
    /** Tiles of {@link CudaKernels#ATTN_SPLIT} tokens one block covers in the tiled split attention. */
    public static final int TILED_ATTENTION_TILES = 4;

    /** The four switches before {@link #tiledAttention}, with the tiled attention at its default. */
    public DecodeKernels(boolean groupBuckets, boolean fusedAttention, boolean foldedNorm, boolean mixedSteps) {
        this(groupBuckets, fusedAttention, foldedNorm, mixedSteps, TILED_ATTENTION_DEFAULT);
    }

    public static DecodeKernels defaults() {
        return new DecodeKernels(GROUP_BUCKETS_DEFAULT, FUSED_ATTENTION_DEFAULT, FOLDED_NORM_DEFAULT, MIXED_STEPS_DEFAULT,
                TILED_ATTENTION_DEFAULT);
    }

    /** The kernels before these switches existed: 16-wide attention, a separate combine and norm, decodes in their own pass. */
    public static DecodeKernels original() {
        return new DecodeKernels(false, false, false, false, false);
    }

    /** These switches with decodes riding prefill chunks' passes or not. */
    public DecodeKernels withMixedSteps(boolean on) {
        return new DecodeKernels(groupBuckets, fusedAttention, foldedNorm, on, tiledAttention);
    }

    /** These switches with the tiled split attention for wide passes or not. */
    public DecodeKernels withTiledAttention(boolean on) {
        return new DecodeKernels(groupBuckets, fusedAttention, foldedNorm, mixedSteps, on);
    }

    /**
     * Tiles per split-attention block for a pass of {@code rows} attention rows: {@link
     * #TILED_ATTENTION_TILES} where the tiled kernels apply, else 1. A batch-invariant engine always
     * takes 1, so a row's sums never depend on how many rows share its pass.
     */
    int attentionTiles(int rows, boolean batchInvariant) {
        boolean tiled = tiledAttention && !fusedAttention && !batchInvariant && rows >= TILED_ATTENTION_MIN_ROWS;
        return tiled ? TILED_ATTENTION_TILES : 1;
    }

    /** Whether a GEMV pass of {@code rows} rows folds the norm into its projections. */
    boolean foldsNorm(int rows) {
        return foldedNorm && rows <= FOLDED_NORM_MAX_ROWS;
    }
}

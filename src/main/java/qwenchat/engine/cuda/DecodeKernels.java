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
 * @param splitGemv on the GEMV route's batch tiles of up to 8 rows, each weight-row pair is shared by
 *     4 warps that split K ({@link GemvShape#splitsK}; gemv.cu's {@code _ks} kernels), so four times
 *     the warps have loads in flight
 * @param streamedNorm the norm-folding GEMVs add the activation rows' sums of squares inside their
 *     weight loop, from the activations their dot products load, instead of every block reducing them
 *     before its first weight load (gemv.cu, "streamed")
 * @param mmaAttention decode attention's partials on tensor cores ({@code attn_partial_mma_*}; the
 *     query group is the MMA's rows, q and p rounded to bf16 for it) instead of CUDA-core FMAs, for
 *     every pass whatever its width (so a row's attention never depends on its batch mates); the
 *     fused combine, when on, takes precedence
 * @param attentionSpans with {@code mmaAttention}, a tensor-core attention block may take several
 *     64-token tiles of a row, and a row that fits one block is finished by it without
 *     {@code attn_combine} ({@link AttentionSplits}); off, every block takes one tile. Never with batch
 *     invariance, whose rows keep one split length whatever the batch
 * @param splitNormGemv with {@code splitGemv}, the norm-folding GEMVs split K as well; off, they keep
 *     one warp a row pair
 * @param dependentLaunch on compute capability 9.0 and up, in the CUDA graphs of decode passes, the
 *     GEMVs are launched with programmatic dependent launch ({@link DependentLaunch}), so each starts
 *     its weight loads while the kernel before it finishes; off, or where the JDK or driver cannot,
 *     every kernel waits for the one before it to finish before it starts
 * @param splitQkvGemv with {@code splitNormGemv}, the norm-folding qkv GEMV splits K too; off, it keeps
 *     one warp a row pair while gate/up and lm_head split
 * @param lateAttentionTrigger the tensor-core attention partials and {@code attn_combine} let the
 *     kernel after them start (their dependent launch) only once their own loads are in flight
 *     (attention_decode_mma.cu); off, as soon as every block has started
 * @param directShortRows with {@code attentionSpans}, a pass whose rows are all short
 *     ({@link AttentionSplits#DIRECT_MAX_TOKENS}) goes as one block a row and KV head whatever its width;
 *     off, short rows follow the span rule as long ones do, so a narrow pass keeps 64-token blocks and
 *     their combine
 */
public record DecodeKernels(boolean groupBuckets, boolean fusedAttention, boolean foldedNorm, boolean mixedSteps,
                            boolean splitGemv, boolean streamedNorm, boolean mmaAttention, boolean attentionSpans,
                            boolean splitNormGemv, boolean dependentLaunch, boolean splitQkvGemv,
                            boolean lateAttentionTrigger, boolean directShortRows) {
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
     * Whether {@link #defaults()} splits the batch-1..8 GEMVs' K over 4 warps a row pair. On an H100
     * at batch 1: qkv 33.5 against 25.0 us, down 53.5 against 50.1, gate/up 93.4 against 90.6, and
     * o_proj 24.6 against 26.7.
     */
    public static final boolean SPLIT_GEMV_DEFAULT = true;
    /**
     * Whether {@link #defaults()} has the norm-folding GEMVs stream their norm's sums of squares. On an
     * H100 inside CUDA graphs, the batch-1 qkv GEMV took 18.75 us with each block's reduction first and
     * 16.22 streamed, against 12.32 for a plain read of its weights. Batch-1 decode, one engine each:
     * 185.2 against 177.2 tok/s at 128 tokens of context, 175.9 against 170.7 at 8K.
     */
    public static final boolean STREAMED_NORM_DEFAULT = true;
    /**
     * Whether {@link #defaults()} computes decode attention's partials on tensor cores. On an H100 at 1K
     * context: +2.5% at 1 sequence, +8.7% at 32, +12% at 64, +17% at 128 and +21% at 256.
     */
    public static final boolean MMA_ATTENTION_DEFAULT = true;
    /**
     * Whether {@link #defaults()} lets tensor-core attention blocks take several tiles ({@link AttentionSplits}).
     * On an H100 at 1K context: -0.2% at 1 sequence, -0.3% at 32, +5.9% at 64, +10.1% at 128 and +12.4% at
     * 256; batch 1 at 8K context 175.9 against 165.9 tok/s.
     */
    public static final boolean ATTENTION_SPANS_DEFAULT = true;
    /**
     * Whether {@link #defaults()} splits K in the norm-folding GEMVs too (as the plain ones, with
     * {@code splitGemv}). On an H100 at batch 1 with streamed norm sums, unsplit was slower: 178.6
     * against 185.2 tok/s at 128 tokens of context, 170.0 against 175.9 at 8K.
     */
    public static final boolean SPLIT_NORM_GEMV_DEFAULT = true;
    /** Whether {@link #defaults()} launches the kernels that wait for their predecessor as dependent launches. */
    public static final boolean DEPENDENT_LAUNCH_DEFAULT = true;
    /**
     * Whether {@link #defaults()} splits K in the norm-folding qkv GEMV. On an H100 at batch 1, one-sequence
     * engines: 190.5 unsplit against 190.3 tok/s split four ways at 128 tokens of context, 177.9 against
     * 175.5 at 8K (gate/up stays split: run t's probe had it faster so, 89.49 against 90.88 us).
     */
    public static final boolean SPLIT_QKV_GEMV_DEFAULT = false;
    /**
     * Whether {@link #defaults()} has decode attention let the o_proj GEMV start only once its own loads
     * are issued. A kernel trace of the batch-1 graph on an H100 had the attention at 14.8 us a layer at
     * 129 to 256 positions (7.4 to 11.3 alone) while o_proj's GEMV, started at once, loaded its weights
     * beside it. Batch 1 on an H100, one-sequence engines, two runs: 190.3 and 190.1 tok/s against 188.5
     * and 187.6 at 128 tokens of context, 182.3 and 182.2 against 177.6 and 177.4 at 8K.
     */
    public static final boolean LATE_ATTENTION_TRIGGER_DEFAULT = true;
    /**
     * Whether {@link #defaults()} sends a pass of short rows as one block a row and KV head. Alone, one
     * layer of one 512-token row took 19.3 us that way against 25.1 in 64-token blocks and their
     * combine; inside the batch-1 step's graph (dependent launches, the late trigger) the 64-token blocks
     * were faster. Batch 1 on an H100, one-sequence engines: 193.9 / 193.6 tok/s against 191.8 / 186.3
     * at 128 / 320 tokens of context (182.8 against 183.7 at 8K, where both take the same plan). 16 / 32
     * / 64 sequences of 128-token prompts, two runs on cards of the same bandwidth: 2518 / 4919 / 9233
     * against 2514 / 4962 / 9221 tok/s.
     */
    public static final boolean DIRECT_SHORT_ROWS_DEFAULT = false;

    /** These four switches, without the K-split GEMVs, the streamed norm sums and the tensor-core attention. */
    public DecodeKernels(boolean groupBuckets, boolean fusedAttention, boolean foldedNorm, boolean mixedSteps) {
        this(groupBuckets, fusedAttention, foldedNorm, mixedSteps, false, false, false);
    }

    /**
     * These seven switches; multi-tile attention blocks off, the norm-folding GEMVs split as the plain
     * ones, and no dependent launches.
     */
    public DecodeKernels(boolean groupBuckets, boolean fusedAttention, boolean foldedNorm, boolean mixedSteps,
                         boolean splitGemv, boolean streamedNorm, boolean mmaAttention) {
        this(groupBuckets, fusedAttention, foldedNorm, mixedSteps, splitGemv, streamedNorm, mmaAttention, false, true, false);
    }

    /** These ten switches, the qkv GEMV split as the other norm-folding ones. */
    public DecodeKernels(boolean groupBuckets, boolean fusedAttention, boolean foldedNorm, boolean mixedSteps,
                         boolean splitGemv, boolean streamedNorm, boolean mmaAttention, boolean attentionSpans,
                         boolean splitNormGemv, boolean dependentLaunch) {
        this(groupBuckets, fusedAttention, foldedNorm, mixedSteps, splitGemv, streamedNorm, mmaAttention, attentionSpans,
                splitNormGemv, dependentLaunch, true);
    }

    /**
     * These eleven switches, the attention letting the next kernel start as soon as all its blocks have
     * and short rows one block a row (the kernels before those two switches).
     */
    public DecodeKernels(boolean groupBuckets, boolean fusedAttention, boolean foldedNorm, boolean mixedSteps,
                         boolean splitGemv, boolean streamedNorm, boolean mmaAttention, boolean attentionSpans,
                         boolean splitNormGemv, boolean dependentLaunch, boolean splitQkvGemv) {
        this(groupBuckets, fusedAttention, foldedNorm, mixedSteps, splitGemv, streamedNorm, mmaAttention, attentionSpans,
                splitNormGemv, dependentLaunch, splitQkvGemv, false, true);
    }

    public static DecodeKernels defaults() {
        return new DecodeKernels(GROUP_BUCKETS_DEFAULT, FUSED_ATTENTION_DEFAULT, FOLDED_NORM_DEFAULT, MIXED_STEPS_DEFAULT,
                SPLIT_GEMV_DEFAULT, STREAMED_NORM_DEFAULT, MMA_ATTENTION_DEFAULT, ATTENTION_SPANS_DEFAULT,
                SPLIT_NORM_GEMV_DEFAULT, DEPENDENT_LAUNCH_DEFAULT, SPLIT_QKV_GEMV_DEFAULT, LATE_ATTENTION_TRIGGER_DEFAULT,
                DIRECT_SHORT_ROWS_DEFAULT);
    }

    /** The kernels before these switches existed: 16-wide attention, a separate combine and norm, decodes in their own pass. */
    public static DecodeKernels original() {
        return new DecodeKernels(false, false, false, false);
    }

    /** These switches with decodes riding prefill chunks' passes or not. */
    public DecodeKernels withMixedSteps(boolean on) {
        return with(Switch.MIXED_STEPS, on);
    }

    /** These switches with the K-split GEMVs on or off. */
    public DecodeKernels withSplitGemv(boolean on) {
        return with(Switch.SPLIT_GEMV, on);
    }

    /** These switches with the norm-folding GEMVs' sums of squares streamed or reduced first. */
    public DecodeKernels withStreamedNorm(boolean on) {
        return with(Switch.STREAMED_NORM, on);
    }

    /** These switches with decode attention's partials on tensor cores or not. */
    public DecodeKernels withMmaAttention(boolean on) {
        return with(Switch.MMA_ATTENTION, on);
    }

    /** These switches with multi-tile attention blocks on or off. */
    public DecodeKernels withAttentionSpans(boolean on) {
        return with(Switch.ATTENTION_SPANS, on);
    }

    /** These switches with the norm-folding GEMVs' K split on or off. */
    public DecodeKernels withSplitNormGemv(boolean on) {
        return with(Switch.SPLIT_NORM_GEMV, on);
    }

    /** These switches with dependent launches on or off. */
    public DecodeKernels withDependentLaunch(boolean on) {
        return with(Switch.DEPENDENT_LAUNCH, on);
    }

    /** These switches with the norm-folding qkv GEMV's K split on or off. */
    public DecodeKernels withSplitQkvGemv(boolean on) {
        return with(Switch.SPLIT_QKV_GEMV, on);
    }

    /** These switches with decode attention's late trigger of the next kernel on or off. */
    public DecodeKernels withLateAttentionTrigger(boolean on) {
        return with(Switch.LATE_ATTENTION_TRIGGER, on);
    }

    /** These switches with a pass of short rows going as one block a row or by the span rule. */
    public DecodeKernels withDirectShortRows(boolean on) {
        return with(Switch.DIRECT_SHORT_ROWS, on);
    }

    /** The record's components, in their order: what {@link #with} changes one of. */
    private enum Switch {
        GROUP_BUCKETS, FUSED_ATTENTION, FOLDED_NORM, MIXED_STEPS, SPLIT_GEMV, STREAMED_NORM, MMA_ATTENTION, ATTENTION_SPANS,
        SPLIT_NORM_GEMV, DEPENDENT_LAUNCH, SPLIT_QKV_GEMV, LATE_ATTENTION_TRIGGER, DIRECT_SHORT_ROWS
    }

    /** These switches with {@code s} set to {@code on}. */
    private DecodeKernels with(Switch s, boolean on) {
        boolean[] v = {groupBuckets, fusedAttention, foldedNorm, mixedSteps, splitGemv, streamedNorm, mmaAttention,
                attentionSpans, splitNormGemv, dependentLaunch, splitQkvGemv, lateAttentionTrigger, directShortRows};
        v[s.ordinal()] = on;
        return new DecodeKernels(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12]);
    }

    /** Whether a GEMV pass of {@code rows} rows folds the norm into its projections. */
    boolean foldsNorm(int rows) {
        return foldedNorm && rows <= FOLDED_NORM_MAX_ROWS;
    }
}

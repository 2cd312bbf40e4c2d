package qwenchat.engine.cuda;

/**
 * Which kernel family runs a forward pass's projections. With batch invariance on, a decode row's
 * arithmetic must not depend on how many rows share its pass, and a prompt row's must not depend
 * on how its prompt was cut into chunks; each family computes a row from that row alone, so the
 * rule is one family per kind of pass whatever its row count:
 * <ul>
 * <li>decode passes and the logits (lm_head) of any pass: {@link #SKINNY} (the
 * {@link #PREFILL_GEMM} in its one-kernel mode where the engine has no skinny GEMM);</li>
 * <li>prefill chunks: {@link #PREFILL_GEMM} in its one-kernel mode.</li>
 * </ul>
 * Off, the fastest family for the row count wins: the f32 {@link #GEMV} below
 * {@link ForwardPass#GEMM_MIN_ROWS} rows, {@link #SKINNY} up to {@link SkinnyGemm#MAX_ROWS} (its
 * SwiGLU from the prefill GEMM where {@link #swigluOnGemm} says so), the prefill GEMM above. Without the tensor-core GEMMs (shapes they cannot tile, or switched off)
 * everything is GEMV, and a row's sums may then change with the batch's width.
 */
enum ProjectionRoute {
    /** gemv.cu on f32 activations. */
    GEMV,
    /** {@link SkinnyGemm} on bf16 activations. */
    SKINNY,
    /** {@link PrefillGemm} on bf16 activations. */
    PREFILL_GEMM;

    /**
     * @param rows rows of the pass (or logit rows)
     * @param prefill whether the rows are a prompt chunk's layers (false: decode layers or logits)
     */
    /**
     * Rows from which a {@link #SKINNY} pass runs its gate/up + SwiGLU through the prefill GEMM's
     * one-wave swiglu tile ({@link PrefillGemm#WGMMA_SWIGLU_WIDE}) instead. On an H100 with the 7B,
     * that tile took 112 us at 64 rows against 149 for the 64-row skinny swiglu and 122 for the
     * 32-row one; the 16-row skinny one took 116. The f32 projections stay skinny: split-K wgmma was
     * no faster there.
     */
    static final int GEMM_SWIGLU_MIN_ROWS = 17;

    /**
     * Whether a {@link #SKINNY} pass of {@code rows} takes its SwiGLU from the prefill GEMM: from
     * {@link #GEMM_SWIGLU_MIN_ROWS} rows where the GEMM has the one-wave tile, never with batch
     * invariance (decode rows keep one family whatever their count).
     */
    static boolean swigluOnGemm(int rows, boolean batchInvariant, boolean gemmHasOneWaveSwiglu) {
        return !batchInvariant && gemmHasOneWaveSwiglu && rows >= GEMM_SWIGLU_MIN_ROWS;
    }

    static ProjectionRoute of(int rows, boolean prefill, boolean batchInvariant, boolean hasGemm, boolean hasSkinny) {
        if (rows < 1) throw new IllegalArgumentException("a pass needs at least one row, got " + rows);
        if (!hasGemm) return GEMV;
        if (batchInvariant) return !prefill && hasSkinny ? SKINNY : PREFILL_GEMM;
        if (rows < ForwardPass.GEMM_MIN_ROWS) return GEMV;
        return hasSkinny && rows <= SkinnyGemm.MAX_ROWS ? SKINNY : PREFILL_GEMM;
    }
}

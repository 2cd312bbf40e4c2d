package qwenchat.engine.placement;

/**
 * One GPU's share of a placement: a contiguous range of decoder layers, with the embedding on the
 * first GPU and the final norm and lm_head on the last.
 *
 * @param firstLayer index of the first decoder layer this GPU runs
 * @param layerCount decoder layers it runs, and whose KV it holds
 * @param embedding whether it holds the token embedding (the first stage)
 * @param lmHead whether it holds the final norm and lm_head (the last stage)
 * @param lmHeadCopiesEmbedding whether its lm_head is its own copy of a tied embedding matrix: with
 *     tied embeddings and more than one GPU the last stage cannot read the first stage's matrix
 * @param weightBytes its weights: its layers, plus the embedding, final norm and lm_head it holds
 * @param workspaceBytes what it needs beside weights and KV (see {@link WorkspaceEstimate})
 * @param kvBudgetBytes what its allowed memory leaves for KV after weights and workspace
 * @param kvBlocks blocks of its layers' KV that budget holds; the pool takes the least over all GPUs
 */
public record GpuStage(GpuDevice device, int firstLayer, int layerCount, boolean embedding, boolean lmHead,
        boolean lmHeadCopiesEmbedding, long weightBytes, long workspaceBytes, long kvBudgetBytes, int kvBlocks) {

    public GpuStage {
        if (layerCount < 1) throw new IllegalArgumentException("a stage runs at least one layer, got " + layerCount);
    }

    /** Index of the last decoder layer this GPU runs. */
    public int lastLayer() {
        return firstLayer + layerCount - 1;
    }
}

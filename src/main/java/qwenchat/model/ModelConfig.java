package qwenchat.model;

/**
 * The architecture of a Qwen2 checkpoint, parsed from its {@code config.json} by
 * {@link ModelConfigParser}. Every size of the Qwen2.5 family from 0.5B to 72B fits this record.
 *
 * @param ropeScaling null when the checkpoint has no {@code rope_scaling}
 */
public record ModelConfig(
        String modelType,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        int vocabSize,
        int maxPositionEmbeddings,
        double ropeTheta,
        double rmsNormEps,
        boolean tieWordEmbeddings,
        RopeScaling ropeScaling,
        String torchDtype) {

    /** Query heads that share one KV head. */
    public int groupSize() {
        return numAttentionHeads / numKeyValueHeads;
    }

    public int qDim() {
        return numAttentionHeads * headDim;
    }

    public int kvDim() {
        return numKeyValueHeads * headDim;
    }

    /** Rows of the fused q/k/v projection: {@code qDim + 2*kvDim}. */
    public int qkvDim() {
        return qDim() + 2 * kvDim();
    }

    /**
     * Context length the model supports: the native window, or the YaRN-extended one when
     * {@code rope_scaling} is present.
     */
    public int contextLength() {
        if (ropeScaling != null && ropeScaling.isYarn()) {
            return (int) Math.min(Integer.MAX_VALUE,
                    Math.round(ropeScaling.originalMaxPositionEmbeddings() * ropeScaling.factor()));
        }
        return maxPositionEmbeddings;
    }

    /** Parameters of one decoder layer: q/k/v weights and biases, o_proj, gate/up/down, two RMSNorm weights. */
    public long layerParameters() {
        long h = hiddenSize;
        return h * qkvDim() + qkvDim()                   // q/k/v weights and biases
                + (long) qDim() * h                      // o_proj, no bias
                + 3L * h * intermediateSize              // gate, up, down
                + 2L * h;                                // two RMSNorm weights
    }

    /** Parameters of the token embedding matrix, {@code [vocab][hidden]}; the same count as an untied lm_head. */
    public long embeddingParameters() {
        return (long) vocabSize * hiddenSize;
    }

    /** Number of parameters implied by the shapes (embeddings counted once when tied). */
    public long parameterCount() {
        long embed = embeddingParameters();
        return embed + (tieWordEmbeddings ? 0 : embed) + numHiddenLayers * layerParameters() + hiddenSize;
    }
}

package qwenchat.model;

/**
 * {@code rope_scaling} from config.json. Qwen2.5 uses YaRN ({@code type: "yarn"}, factor 4,
 * original_max_position_embeddings 32768) to reach 128K context. {@code attentionFactor} is the
 * optional explicit {@code attention_factor}; when null, the YaRN default 0.1*ln(factor)+1 applies.
 */
public record RopeScaling(
        String type,
        double factor,
        int originalMaxPositionEmbeddings,
        Double attentionFactor,
        double betaFast,
        double betaSlow) {

    public boolean isYarn() {
        return "yarn".equals(type);
    }

    /** The factor that scales attention logits (applied to cos/sin in transformers). */
    public double effectiveAttentionFactor() {
        if (attentionFactor != null) return attentionFactor;
        return factor <= 1 ? 1.0 : 0.1 * Math.log(factor) + 1.0;
    }
}

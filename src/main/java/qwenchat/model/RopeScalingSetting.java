package qwenchat.model;

import java.util.Locale;

/**
 * The {@code qwen.rope-scaling} setting: {@code none} serves the checkpoint's config.json as it is;
 * {@code yarn:FACTOR} adds YaRN with that factor over the native window
 * ({@code original_max_position_embeddings = max_position_embeddings}, 32768 on Qwen2.5), exactly
 * what Qwen's model card has users write into config.json to reach 128K, without editing the files.
 *
 * @param yarnFactor the YaRN factor, or 0 for {@code none}
 */
public record RopeScalingSetting(double yarnFactor) {

    /** What the setting may look like; checked when the properties bind. */
    public static final String PATTERN = "none|yarn:[0-9]+(\\.[0-9]+)?";

    public static final RopeScalingSetting NONE = new RopeScalingSetting(0);

    public RopeScalingSetting {
        if (yarnFactor != 0 && !(yarnFactor > 1)) {
            throw new IllegalArgumentException("the YaRN factor must be above 1, got " + yarnFactor);
        }
    }

    public static RopeScalingSetting parse(String value) {
        String v = value == null ? "none" : value.trim().toLowerCase(Locale.ROOT);
        if (v.equals("none")) return NONE;
        if (v.matches(PATTERN)) return new RopeScalingSetting(Double.parseDouble(v.substring("yarn:".length())));
        throw new IllegalArgumentException("qwen.rope-scaling must be none or yarn:FACTOR (e.g. yarn:4), got '" + value + "'");
    }

    public boolean enabled() {
        return yarnFactor != 0;
    }

    /** The config the engines should see: unchanged for {@code none}, else with YaRN of this factor. */
    public ModelConfig applyTo(ModelConfig c) {
        if (!enabled()) return c;
        // A config that already scales keeps its native window; the setting only replaces the factor.
        int original = c.ropeScaling() != null ? c.ropeScaling().originalMaxPositionEmbeddings() : c.maxPositionEmbeddings();
        RopeScaling yarn = new RopeScaling("yarn", yarnFactor, original, null, 32.0, 1.0);
        return new ModelConfig(c.modelType(), c.hiddenSize(), c.intermediateSize(), c.numHiddenLayers(),
                c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim(), c.vocabSize(), c.maxPositionEmbeddings(),
                c.ropeTheta(), c.rmsNormEps(), c.tieWordEmbeddings(), yarn, c.torchDtype());
    }

    @Override
    public String toString() {
        return enabled() ? "yarn:" + yarnFactor : "none";
    }
}

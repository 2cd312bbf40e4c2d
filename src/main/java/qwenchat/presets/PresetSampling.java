package qwenchat.presets;

/**
 * A preset's sampling defaults; every field is optional (null means "the model's default"), and a
 * user's explicit setting wins over all of them.
 */
public record PresetSampling(
        Double temperature,
        Double topP,
        Integer topK,
        Double repetitionPenalty,
        Integer maxTokens) {

    public static final PresetSampling NONE = new PresetSampling(null, null, null, null, null);
}

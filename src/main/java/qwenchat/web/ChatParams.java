package qwenchat.web;

/** The user's explicit sampling settings; null fields fall back to the preset, then the model's defaults. */
public record ChatParams(
        Double temperature,
        Double topP,
        Integer topK,
        Double minP,
        Double repetitionPenalty,
        Long seed,
        Integer maxTokens) {

    public static final ChatParams NONE = new ChatParams(null, null, null, null, null, null, null);
}

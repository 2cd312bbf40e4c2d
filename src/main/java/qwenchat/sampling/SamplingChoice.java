package qwenchat.sampling;

/**
 * What a client set explicitly, over the chat socket or {@code /v1}; null means "not set", and the
 * preset, the checkpoint's generation_config.json or the server default decide instead.
 */
public record SamplingChoice(
        Double temperature,
        Double topP,
        Integer topK,
        Double minP,
        Double repetitionPenalty,
        Double presencePenalty,
        Double frequencyPenalty,
        Long seed,
        Integer maxTokens) {

    public static final SamplingChoice NONE = new SamplingChoice(null, null, null, null, null, null, null, null, null);
}

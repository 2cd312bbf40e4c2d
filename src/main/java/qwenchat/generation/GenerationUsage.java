package qwenchat.generation;

/**
 * Counts and timings of a finished generation.
 *
 * @param queueMillis time from submit to the start of prefill
 * @param timeToFirstTokenMillis time from submit to the first generated token
 * @param decodeTokensPerSecond completion tokens after the first, per second of decoding
 * @param cachedTokens prompt tokens whose KV came from the prefix cache instead of being computed
 *     (OpenAI's {@code usage.prompt_tokens_details.cached_tokens})
 */
public record GenerationUsage(
        int promptTokens,
        int completionTokens,
        long queueMillis,
        long timeToFirstTokenMillis,
        long totalMillis,
        double decodeTokensPerSecond,
        int cachedTokens) {

    public GenerationUsage(int promptTokens, int completionTokens, long queueMillis, long timeToFirstTokenMillis,
            long totalMillis, double decodeTokensPerSecond) {
        this(promptTokens, completionTokens, queueMillis, timeToFirstTokenMillis, totalMillis, decodeTokensPerSecond, 0);
    }

    public int totalTokens() {
        return promptTokens + completionTokens;
    }
}

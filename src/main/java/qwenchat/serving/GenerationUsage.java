package qwenchat.serving;

/**
 * Counts and timings of a finished generation.
 *
 * @param queueMillis time from submit to the start of prefill
 * @param timeToFirstTokenMillis time from submit to the first generated token
 * @param decodeTokensPerSecond completion tokens after the first, per second of decoding
 */
public record GenerationUsage(
        int promptTokens,
        int completionTokens,
        long queueMillis,
        long timeToFirstTokenMillis,
        long totalMillis,
        double decodeTokensPerSecond) {

    public int totalTokens() {
        return promptTokens + completionTokens;
    }
}

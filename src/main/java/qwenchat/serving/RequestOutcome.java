package qwenchat.serving;

/**
 * How one request ended, in counts and timings only.
 *
 * @param finishReason "stop", "length", "cancelled", "timeout" or "error"
 * @param errorCode the {@link GenerationException.Code} name when {@code finishReason} is "error", else null
 * @param timeToFirstTokenNanos from submit to the first token; -1 when no token came
 * @param decodeTokensPerSecond completion tokens after the first per second of decoding; 0 when fewer than two
 */
public record RequestOutcome(
        String requestId,
        int promptTokens,
        int completionTokens,
        long queueNanos,
        long timeToFirstTokenNanos,
        long e2eNanos,
        String finishReason,
        String errorCode,
        double decodeTokensPerSecond) {
}

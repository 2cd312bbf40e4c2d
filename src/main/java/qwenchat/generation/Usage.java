package qwenchat.generation;

/**
 * What one generation cost.
 *
 * @param completionTokens tokens sampled, an ending eos included
 * @param timeToFirstTokenMs from the start of the prefill to the first sampled token
 * @param decodeTokensPerSecond tokens sampled after the first, per second of decoding (0 when only one)
 */
public record Usage(int promptTokens, int completionTokens, double timeToFirstTokenMs, double decodeTokensPerSecond) {
}

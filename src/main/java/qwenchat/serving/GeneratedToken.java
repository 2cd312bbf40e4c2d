package qwenchat.serving;

/**
 * One generated token as streamed to a client.
 *
 * @param text the text this token completes (possibly empty: UTF-8 bytes held back, or text held
 *     back while it could still become a stop string; it is released with a later token)
 * @param topIds alternatives, best first; empty unless requested
 */
public record GeneratedToken(int id, String text, float logprob, int[] topIds, float[] topLogprobs) {
}

package qwenchat.engine;

/**
 * The token an engine picked for one sequence in a step.
 *
 * @param logprob log-softmax of the raw logits (before temperature and penalties) at {@code token}
 * @param topIds the most likely ids by raw logits, best first; empty unless requested
 * @param topLogprobs their log-probabilities, same order
 */
public record SampledToken(int sequence, int token, float logprob, int[] topIds, float[] topLogprobs) {
}

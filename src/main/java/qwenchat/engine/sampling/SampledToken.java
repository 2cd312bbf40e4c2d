package qwenchat.engine.sampling;

/**
 * The token an engine picked for one sequence in a step.
 *
 * @param logprob log-softmax of the raw logits (before temperature and penalties) at {@code token}
 * @param topIds the most likely ids by raw logits, best first; empty unless requested
 * @param topLogprobs their log-probabilities, same order
 */
public record SampledToken(int sequence, int token, float logprob, int[] topIds, float[] topLogprobs) {

    /** The result of a prefill chunk that picked nothing (see {@code StepRequest.sample()}). */
    public static SampledToken none(int sequence) {
        return new SampledToken(sequence, -1, Float.NaN, new int[0], new float[0]);
    }

    /** False for {@link #none}: no token was picked. */
    public boolean picked() {
        return token >= 0;
    }
}

package qwenchat.engine;

import qwenchat.engine.sampling.SamplingParams;

/**
 * One sequence's part of a {@link InferenceEngine#step} call.
 *
 * @param sequence an open slot
 * @param tokens the tokens to append: the prompt for a prefill, the last sampled token for a decode
 * @param prefill true when {@code tokens} are prompt tokens. Repetition penalty sees prompt and
 *     generated tokens (as transformers does); presence and frequency penalties see only tokens
 *     appended with {@code prefill == false}, which are the sampled ones (as OpenAI defines them).
 * @param sampling how to pick the next token
 * @param topLogprobs how many of the most likely ids to report with their log-probabilities
 *     (0..{@link KernelLimits#MAX_TOP_LOGPROBS})
 */
public record StepRequest(int sequence, int[] tokens, boolean prefill, SamplingParams sampling, int topLogprobs) {
    public StepRequest {
        if (tokens.length == 0) throw new IllegalArgumentException("a step needs at least one token");
        if (!prefill && tokens.length != 1) {
            throw new IllegalArgumentException("a decode step appends exactly one token, got " + tokens.length);
        }
        if (topLogprobs < 0 || topLogprobs > KernelLimits.MAX_TOP_LOGPROBS) {
            throw new IllegalArgumentException(
                    "topLogprobs must be 0.." + KernelLimits.MAX_TOP_LOGPROBS + ", got " + topLogprobs);
        }
    }

    public static StepRequest prefill(int sequence, int[] prompt, SamplingParams sampling, int topLogprobs) {
        return new StepRequest(sequence, prompt, true, sampling, topLogprobs);
    }

    public static StepRequest decode(int sequence, int token, SamplingParams sampling, int topLogprobs) {
        return new StepRequest(sequence, new int[] {token}, false, sampling, topLogprobs);
    }
}

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
 * @param topLogprobs how many of the most likely ids to report with their log-probabilities (0-20)
 * @param generatedTail for a prefill that recomputes a preempted sequence: how many of the last
 *     {@code tokens} were sampled earlier, so the penalties and the draw counter count them as
 *     generated exactly as if the sequence had never left the cache; 0 otherwise
 */
public record StepRequest(int sequence, int[] tokens, boolean prefill, SamplingParams sampling, int topLogprobs,
        int generatedTail) {
    public StepRequest {
        if (tokens.length == 0) throw new IllegalArgumentException("a step needs at least one token");
        if (!prefill && tokens.length != 1) {
            throw new IllegalArgumentException("a decode step appends exactly one token, got " + tokens.length);
        }
        if (topLogprobs < 0 || topLogprobs > 20) {
            throw new IllegalArgumentException("topLogprobs must be 0..20, got " + topLogprobs);
        }
        if (generatedTail < 0 || generatedTail > 0 && (!prefill || generatedTail >= tokens.length)) {
            throw new IllegalArgumentException("generatedTail must be 0, or 1.." + (tokens.length - 1)
                    + " on a prefill (at least one prompt token), got " + generatedTail);
        }
    }

    public StepRequest(int sequence, int[] tokens, boolean prefill, SamplingParams sampling, int topLogprobs) {
        this(sequence, tokens, prefill, sampling, topLogprobs, 0);
    }

    /**
     * Re-fills a preempted sequence: its prompt followed by the {@code generated} tokens it had
     * sampled, in one prefill whose result is the token the next decode would have given.
     */
    public static StepRequest recompute(int sequence, int[] promptAndGenerated, int generated, SamplingParams sampling,
            int topLogprobs) {
        return new StepRequest(sequence, promptAndGenerated, true, sampling, topLogprobs, generated);
    }

    /** Tokens of {@link #tokens} that were prompt, not sampled: all of them unless this is a recompute. */
    public int promptLength() {
        return tokens.length - generatedTail;
    }

    public static StepRequest prefill(int sequence, int[] prompt, SamplingParams sampling, int topLogprobs) {
        return new StepRequest(sequence, prompt, true, sampling, topLogprobs);
    }

    public static StepRequest decode(int sequence, int token, SamplingParams sampling, int topLogprobs) {
        return new StepRequest(sequence, new int[] {token}, false, sampling, topLogprobs);
    }
}

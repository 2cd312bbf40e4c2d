package qwenchat.engine;

import java.util.BitSet;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.engine.sampling.SampledToken;

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
 * @param generatedTail for a prefill that recomputes a preempted sequence: how many of the last
 *     {@code tokens} were sampled earlier, so the penalties and the draw counter count them as
 *     generated exactly as if the sequence had never left the cache; 0 otherwise. A chunk of a
 *     recompute counts the sampled tokens within the chunk, which may be all of them.
 * @param sample false for a chunk of a prefill that more chunks follow: its tokens are appended to
 *     the sequence's KV (after whatever it holds) and no token is picked, so the engine skips the
 *     logits and the sampler and returns {@link SampledToken#none(int)} for it. Only the last chunk
 *     samples, and it samples what a prefill of the whole prompt at once would have.
 * @param allowed the ids the picked token may be (constrained decoding), or null for any; engines
 *     treat every other id's logit as -inf before penalties and sampling, and only read the set.
 *     A step that picks nothing ({@code sample == false}) has no next token to restrict, so the
 *     set is dropped there: it always belongs to the step whose token the grammar will see.
 * @param lab the bias lab's ablation and probe for this sequence, or null (every ordinary request)
 */
public record StepRequest(int sequence, int[] tokens, boolean prefill, SamplingParams sampling, int topLogprobs,
        int generatedTail, boolean sample, BitSet allowed, LabPass lab) {
    public StepRequest {
        if (tokens.length == 0) throw new IllegalArgumentException("a step needs at least one token");
        if (!prefill && tokens.length != 1) {
            throw new IllegalArgumentException("a decode step appends exactly one token, got " + tokens.length);
        }
        if (topLogprobs < 0 || topLogprobs > KernelLimits.MAX_TOP_LOGPROBS) {
            throw new IllegalArgumentException(
                    "topLogprobs must be 0.." + KernelLimits.MAX_TOP_LOGPROBS + ", got " + topLogprobs);
        }
        if (generatedTail < 0 || generatedTail > 0 && (!prefill || generatedTail > tokens.length)) {
            throw new IllegalArgumentException("generatedTail must be 0, or 1.." + tokens.length
                    + " on a prefill, got " + generatedTail);
        }
        if (!sample && !prefill) throw new IllegalArgumentException("a decode step always samples");
        if (!sample) allowed = null;
    }

    public StepRequest(int sequence, int[] tokens, boolean prefill, SamplingParams sampling, int topLogprobs,
            int generatedTail, boolean sample, BitSet allowed) {
        this(sequence, tokens, prefill, sampling, topLogprobs, generatedTail, sample, allowed, null);
    }

    public StepRequest(int sequence, int[] tokens, boolean prefill, SamplingParams sampling, int topLogprobs,
            int generatedTail, boolean sample) {
        this(sequence, tokens, prefill, sampling, topLogprobs, generatedTail, sample, null);
    }

    public StepRequest(int sequence, int[] tokens, boolean prefill, SamplingParams sampling, int topLogprobs,
            int generatedTail) {
        this(sequence, tokens, prefill, sampling, topLogprobs, generatedTail, true);
    }

    public StepRequest(int sequence, int[] tokens, boolean prefill, SamplingParams sampling, int topLogprobs) {
        this(sequence, tokens, prefill, sampling, topLogprobs, 0, true);
    }

    /**
     * One chunk of a prefill that runs over several steps: {@code tokens} go after what the sequence
     * holds, the last {@code generatedTail} of them were sampled before a preemption, and only the
     * final chunk ({@code last}) picks a token.
     */
    public static StepRequest chunk(int sequence, int[] tokens, int generatedTail, boolean last,
            SamplingParams sampling, int topLogprobs) {
        return new StepRequest(sequence, tokens, true, sampling, topLogprobs, generatedTail, last);
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

    /** The same request with the next token restricted to {@code allowed} (null: unrestricted). */
    public StepRequest restrictedTo(BitSet allowed) {
        return new StepRequest(sequence, tokens, prefill, sampling, topLogprobs, generatedTail, sample, allowed, lab);
    }

    /** The same request run as a bias-lab pass (null: an ordinary one). */
    public StepRequest withLab(LabPass lab) {
        return new StepRequest(sequence, tokens, prefill, sampling, topLogprobs, generatedTail, sample, allowed, lab);
    }

    /** Whether the engine should measure this step: a lab pass with a probe, sampling from a prefill. */
    public boolean probed() {
        return lab != null && lab.probe() != null && prefill && sample;
    }
}

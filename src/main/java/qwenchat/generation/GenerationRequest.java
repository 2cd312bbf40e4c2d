package qwenchat.generation;

import java.util.List;
import qwenchat.engine.LabPass;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.grammar.TokenConstraint;

/**
 * One generation to run: already-templated prompt ids plus how to sample and when to stop.
 *
 * @param requestId caller-chosen id for logs and metrics (never the prompt)
 * @param promptIds the rendered conversation's token ids
 * @param maxNewTokens upper bound on generated tokens (also bounded by the context window)
 * @param stop stop strings; a stop string never appears in the streamed text
 * @param topLogprobs how many alternatives to report per token (0..{@link qwenchat.engine.KernelLimits#MAX_TOP_LOGPROBS})
 * @param constraint which tokens may come next (structured output, forced tool calls), or null;
 *     stateful, so one per request, used by the scheduler's loop thread only
 * @param priority how it competes with other requests for admission and under preemption
 * @param lab the bias lab's ablation and probe for every step of this request, or null
 */
public record GenerationRequest(
        String requestId,
        int[] promptIds,
        int maxNewTokens,
        SamplingParams sampling,
        List<String> stop,
        int topLogprobs,
        TokenConstraint constraint,
        Priority priority,
        LabPass lab) {

    public GenerationRequest {
        stop = List.copyOf(stop);
        if (priority == null) priority = Priority.INTERACTIVE;
    }

    public GenerationRequest(String requestId, int[] promptIds, int maxNewTokens, SamplingParams sampling, List<String> stop,
            int topLogprobs, TokenConstraint constraint) {
        this(requestId, promptIds, maxNewTokens, sampling, stop, topLogprobs, constraint, Priority.INTERACTIVE, null);
    }

    /** Whether its steps compute keys and values no other prompt may reuse (a lab run that drops biases). */
    public boolean privateKv() {
        return lab != null && lab.changesKv();
    }

    public GenerationRequest(String requestId, int[] promptIds, int maxNewTokens, SamplingParams sampling, List<String> stop,
            int topLogprobs) {
        this(requestId, promptIds, maxNewTokens, sampling, stop, topLogprobs, null);
    }
}

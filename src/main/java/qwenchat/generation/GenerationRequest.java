package qwenchat.generation;

import java.util.List;
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
 */
public record GenerationRequest(
        String requestId,
        int[] promptIds,
        int maxNewTokens,
        SamplingParams sampling,
        List<String> stop,
        int topLogprobs,
        TokenConstraint constraint) {

    public GenerationRequest {
        stop = List.copyOf(stop);
    }

    public GenerationRequest(String requestId, int[] promptIds, int maxNewTokens, SamplingParams sampling, List<String> stop,
            int topLogprobs) {
        this(requestId, promptIds, maxNewTokens, sampling, stop, topLogprobs, null);
    }
}

package qwenchat.generation;

import java.util.List;
import qwenchat.engine.sampling.SamplingParams;

/**
 * One prompt to continue.
 *
 * @param stopStrings generation ends before the first of these appears; none of it is returned
 * @param topLogprobs alternatives to report for every generated token (0-20)
 */
public record GenerationRequest(int[] promptIds, SamplingParams sampling, int maxNewTokens, List<String> stopStrings,
        int topLogprobs) {

    public GenerationRequest {
        if (promptIds.length == 0) throw new IllegalArgumentException("the prompt has no tokens");
        if (maxNewTokens < 1) throw new IllegalArgumentException("max new tokens must be >= 1, got " + maxNewTokens);
        stopStrings = List.copyOf(stopStrings);
        for (String s : stopStrings) {
            if (s.isEmpty()) throw new IllegalArgumentException("a stop string must not be empty");
        }
    }
}

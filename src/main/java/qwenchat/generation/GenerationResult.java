package qwenchat.generation;

import java.util.List;
import qwenchat.engine.sampling.SampledToken;

/**
 * A finished generation.
 *
 * @param ids generated ids, without an ending eos id; with a stop string, up to the token that completed it
 * @param text the decoded text, cut before a stop string
 * @param steps one per sampled token (the eos one included), with the requested top log-probabilities
 * @param usage completion tokens count every sampled token, an ending eos included
 */
public record GenerationResult(int[] ids, String text, FinishReason finishReason, GenerationUsage usage,
        List<SampledToken> steps) {
}

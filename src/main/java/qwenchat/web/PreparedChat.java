package qwenchat.web;

import qwenchat.engine.sampling.SamplingParams;
import qwenchat.tokenizer.RenderedPrompt;

/** A chat frame turned into what the scheduler needs. {@code maxNewTokens} is already capped by the context left. */
public record PreparedChat(RenderedPrompt prompt, SamplingParams sampling, int maxNewTokens, String presetId) {
}

package qwenchat.serving;

import java.util.ArrayList;
import java.util.List;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.GenerationConfig;
import qwenchat.tokenizer.ChatMessage;
import qwenchat.tokenizer.ChatTemplate;
import qwenchat.tokenizer.QwenTokenizer;

/**
 * Startup checks that run the real engine before the first client does: a short warm-up
 * generation (first-call costs such as kernel loading and JIT), then a fixed prompt whose logits
 * must be usable. Catches broken weights (NaN, all-zero) and engine bugs before traffic arrives.
 */
final class SelfCheck {

    static final String PROMPT = "What is the capital of France?";
    static final int WARM_UP_TOKENS = 4;

    private SelfCheck() {
    }

    /** Prefills the fixed prompt and decodes a few tokens with the checkpoint's default sampling. */
    static void warmUp(InferenceEngine engine, ChatTemplate template, GenerationConfig defaults) {
        int[] prompt = prompt(template);
        SamplingParams sampling = SamplingParams.defaults(defaults, 0);
        int seq = engine.openSequence();
        try {
            SampledToken t = engine.step(List.of(StepRequest.prefill(seq, prompt, sampling, 0))).get(0);
            for (int i = 1; i < WARM_UP_TOKENS; i++) {
                t = engine.step(List.of(StepRequest.decode(seq, t.token(), sampling, 0))).get(0);
            }
        } finally {
            engine.freeSequence(seq);
        }
    }

    /**
     * The fixed prompt's next-token logits are finite and not all equal, and their argmax is a
     * token the tokenizer knows (not padding beyond its vocabulary).
     */
    static void check(InferenceEngine engine, ChatTemplate template, QwenTokenizer tokenizer) {
        int[] prompt = prompt(template);
        int seq = engine.openSequence();
        float[] logits;
        try {
            logits = engine.prefillLogits(seq, prompt, false)[0];
        } finally {
            engine.freeSequence(seq);
        }
        List<String> problems = new ArrayList<>();
        if (logits.length != engine.config().vocabSize()) {
            problems.add("the engine returned " + logits.length + " logits for a vocabulary of " + engine.config().vocabSize());
        }
        int best = 0;
        int nonFinite = 0;
        float min = Float.POSITIVE_INFINITY;
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < logits.length; i++) {
            float v = logits[i];
            if (!Float.isFinite(v)) {
                nonFinite++;
                continue;
            }
            min = Math.min(min, v);
            max = Math.max(max, v);
            if (v > logits[best] || !Float.isFinite(logits[best])) best = i;
        }
        if (nonFinite > 0) problems.add(nonFinite + " of " + logits.length + " logits are NaN or infinite");
        if (!(max > min)) problems.add("all logits are equal (" + min + "): the weights look empty");
        if (best >= tokenizer.vocabularySize()) {
            problems.add("the most likely next token is id " + best + ", outside the tokenizer's "
                    + tokenizer.vocabularySize() + " ids");
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException("self-check failed on the prompt '" + PROMPT + "': "
                    + String.join("; ", problems));
        }
    }

    private static int[] prompt(ChatTemplate template) {
        return template.render(List.of(new ChatMessage("user", PROMPT)), true).ids();
    }
}

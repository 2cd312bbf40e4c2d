package qwenchat.generation;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;

/**
 * Generates one sequence at a time on an engine: prefill, then decode until an eos id, a stop
 * string, the token budget or the context limit (the engine's tokens per sequence or the model's
 * context, whichever is smaller). Text is streamed as it is decoded.
 */
public final class Generator {

    private final InferenceEngine engine;
    private final Supplier<TextDecoder> decoders;
    private final Set<Integer> eosIds;

    public Generator(InferenceEngine engine, Supplier<TextDecoder> decoders, List<Integer> eosIds) {
        this.engine = engine;
        this.decoders = decoders;
        this.eosIds = new HashSet<>(eosIds);
    }

    /** Tokens a sequence may hold in all, prompt included. */
    public int contextLimit() {
        return Math.min(engine.capacity().maxTokensPerSequence(), engine.config().contextLength());
    }

    /**
     * Runs {@code req} to the end, passing text to {@code onText} as it becomes final.
     *
     * @throws IllegalArgumentException for an empty prompt, a token budget below 1, an empty stop
     *     string, or a prompt that leaves no room under {@link #contextLimit()}
     */
    public GenerationResult generate(GenerationRequest req, Consumer<String> onText) {
        if (req.promptIds().length == 0) throw new IllegalArgumentException("the prompt has no tokens");
        if (req.maxNewTokens() < 1) {
            throw new IllegalArgumentException("max new tokens must be >= 1, got " + req.maxNewTokens());
        }
        for (String s : req.stop()) {
            if (s.isEmpty()) throw new IllegalArgumentException("a stop string must not be empty");
        }
        int limit = contextLimit();
        if (req.promptIds().length >= limit) {
            throw new IllegalArgumentException("the prompt has " + req.promptIds().length
                    + " tokens, leaving no room under the context limit of " + limit + " tokens");
        }
        SequenceTracker tracker = new SequenceTracker(decoders.get(), req.stop(), eosIds, req.maxNewTokens(), limit);
        List<SampledToken> steps = new ArrayList<>();
        int seq = engine.openSequence();
        long start = System.nanoTime();
        long firstAt;
        try {
            SampledToken t = engine.step(List.of(
                    StepRequest.prefill(seq, req.promptIds(), req.sampling(), req.topLogprobs()))).get(0);
            firstAt = System.nanoTime();
            while (true) {
                steps.add(t);
                emit(onText, tracker.accept(t.token(), engine.sequenceLength(seq)));
                if (tracker.finishReason() != null) break;
                t = engine.step(List.of(StepRequest.decode(seq, t.token(), req.sampling(), req.topLogprobs()))).get(0);
            }
        } finally {
            engine.freeSequence(seq);
        }
        long end = System.nanoTime();
        emit(onText, tracker.finish());
        double decodeSeconds = (end - firstAt) / 1e9;
        GenerationUsage usage = new GenerationUsage(req.promptIds().length, steps.size(), 0,
                (firstAt - start) / 1_000_000, (end - start) / 1_000_000,
                steps.size() > 1 && decodeSeconds > 0 ? (steps.size() - 1) / decodeSeconds : 0);
        return new GenerationResult(tracker.ids(), tracker.text(), tracker.finishReason(), usage, steps);
    }

    private static void emit(Consumer<String> onText, String s) {
        if (!s.isEmpty()) onText.accept(s);
    }
}

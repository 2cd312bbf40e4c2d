package qwenchat.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import qwenchat.engine.StepRequest;
import qwenchat.engine.cuda.CudaEngine;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.grammar.Grammar;
import qwenchat.grammar.GrammarCache;
import qwenchat.grammar.JsonConstraint;
import qwenchat.model.ModelConfig;
import qwenchat.tokenizer.QwenTokenizer;
import tools.jackson.databind.json.JsonMapper;

/**
 * What schema-constrained decoding costs per step, for {@code bench}: the grammar's host work (the
 * allowed set of one row, then advancing it by the chosen token) while a valid answer to a typical
 * tool-argument schema is written out, and the device's extra time for masked decode steps at batch
 * 1 and 32 (the masks go up in one copy and one launch per pass; see DeviceSampling).
 */
final class MaskCostBench {
    /** A schema of the kind tool arguments and extraction prompts use: nested object, enum, array, numbers. */
    static final String SCHEMA = """
            {"type": "object", "properties": {
              "name": {"type": "string"},
              "age": {"type": "integer"},
              "role": {"enum": ["admin", "editor", "viewer"]},
              "tags": {"type": "array", "items": {"type": "string"}},
              "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                          "required": ["city", "zip"]},
              "score": {"type": "number"}},
             "required": ["name", "age", "role", "tags", "address", "score"]}""";
    /** A valid answer in the spacing Qwen2.5 writes JSON with (", " and ": "), as the grammar expects. */
    static final String ANSWER = "{\"name\": \"Ada Lovelace\", \"age\": 36, \"role\": \"editor\", "
            + "\"tags\": [\"mathematics\", \"engines\", \"poetry of science\"], "
            + "\"address\": {\"city\": \"London\", \"zip\": \"W1J 7NT\"}, \"score\": 98.5}";

    private MaskCostBench() {
    }

    /** The masks of one constrained answer, with the host time the grammar took per token, cold and warm. */
    record HostRun(List<BitSet> masks, int[] tokens, double coldMicrosPerToken, double warmMicrosPerToken) {
    }

    /**
     * Writes {@link #ANSWER} through a constraint of a newly compiled grammar (the first request with
     * this schema: every matcher state's vocabulary walk is new), then through a second constraint of
     * the same grammar (a later request repeating the schema, which the server's grammar cache gives
     * the same grammar): the host time one constrained row adds to each step, cold and warm.
     */
    static HostRun host(QwenTokenizer tokenizer) {
        JsonMapper json = JsonMapper.builder().build();
        Set<Integer> eos = Set.of(tokenizer.specialTokenId("<|im_end|>"), tokenizer.specialTokenId("<|endoftext|>"));
        GrammarCache cache = new GrammarCache(tokenizer, eos);
        int[] tokens = tokenizer.encode(ANSWER);
        List<BitSet> masks = new ArrayList<>();
        double cold = answer(cache.forSchema(json.readTree(SCHEMA)), tokens, masks);
        double warm = answer(cache.forSchema(json.readTree(SCHEMA)), tokens, new ArrayList<>());
        return new HostRun(masks, tokens, cold, warm);
    }

    /** Microseconds per token to write {@code tokens} under a fresh constraint of {@code g}; the masks into {@code masks}. */
    private static double answer(Grammar g, int[] tokens, List<BitSet> masks) {
        JsonConstraint c = g.start();
        long t = System.nanoTime();
        for (int i = 0; i < tokens.length; i++) {
            BitSet allowed = c.allowed(1024 - i);
            if (!allowed.get(tokens[i])) {
                throw new IllegalStateException("the grammar refuses token " + i + " (" + tokens[i] + ") of the sample answer");
            }
            masks.add(allowed);
            c.accept(tokens[i]);
        }
        return (System.nanoTime() - t) / 1e3 / tokens.length;
    }

    /** Host and device cost of masks, into bench's results as mask_* keys. */
    static Map<String, Double> measure(CudaEngine e, ModelConfig c, PrintStream log) {
        Map<String, Double> r = new LinkedHashMap<>();
        HostRun h = host(QwenTokenizer.bundled());
        r.put("mask_host_cold_us_per_token_per_row", h.coldMicrosPerToken());
        r.put("mask_host_warm_us_per_token_per_row", h.warmMicrosPerToken());
        log.printf("[bench] grammar on the host, %d-token answer: %.0f us per token per row for a new schema, %.1f for a"
                + " repeated one%n", h.tokens().length, h.coldMicrosPerToken(), h.warmMicrosPerToken());
        for (int batch : new int[] {1, 32}) {
            double plain = decodeMicros(e, c, batch, null);
            double masked = decodeMicros(e, c, batch, h.masks());
            r.put("mask_device_b" + batch + "_step_us", masked - plain);
            log.printf("[bench] masked decode, %d row(s): %.1f us per step unmasked, %.1f masked (+%.1f us, %.1f%%)%n",
                    batch, plain, masked, masked - plain, 100 * (masked - plain) / plain);
        }
        return r;
    }

    /** Mean microseconds of a greedy decode step over {@code batch} sequences, every row masked when masks != null. */
    private static double decodeMicros(CudaEngine e, ModelConfig c, int batch, List<BitSet> masks) {
        SamplingParams g = SamplingParams.greedyDecoding();
        Random rnd = new Random(13);
        int[] seqs = new int[batch];
        int[] toks = new int[batch];
        for (int i = 0; i < batch; i++) {
            seqs[i] = e.openSequence();
            int[] prompt = new int[128];
            for (int j = 0; j < prompt.length; j++) prompt[j] = rnd.nextInt(Math.min(c.vocabSize(), 150_000));
            toks[i] = e.step(List.of(StepRequest.prefill(seqs[i], prompt, g, 0))).get(0).token();
        }
        int steps = 32;
        long t = 0;
        for (int i = -4; i < steps; i++) {
            if (i == 0) t = System.nanoTime();
            List<StepRequest> reqs = new ArrayList<>(batch);
            for (int j = 0; j < batch; j++) {
                StepRequest d = StepRequest.decode(seqs[j], toks[j], g, 0);
                // The mask of the answer's step i keeps the masked work realistic (few or many ids allowed).
                reqs.add(masks == null ? d : d.restrictedTo(masks.get(Math.floorMod(i + j, masks.size()))));
            }
            var outs = e.step(reqs);
            for (int j = 0; j < batch; j++) toks[j] = outs.get(j).token();
        }
        double us = (System.nanoTime() - t) / 1e3 / steps;
        for (int s : seqs) e.freeSequence(s);
        return us;
    }
}

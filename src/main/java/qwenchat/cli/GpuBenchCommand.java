package qwenchat.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.StepRequest;
import qwenchat.engine.cuda.CudaContext;
import qwenchat.engine.cuda.CudaEngine;
import qwenchat.engine.cuda.CudaKernels;
import qwenchat.engine.cuda.DecodeKernels;
import qwenchat.engine.cuda.DeviceBenchmarks;
import qwenchat.engine.cuda.KernelModule;
import qwenchat.engine.cuda.PrefillAttention;
import qwenchat.engine.cuda.PrefillGemm;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.model.ModelConfigParser;
import qwenchat.model.RopeScaling;
import qwenchat.weights.Checkpoint;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code bench --model DIR [--out FILE]}: the CUDA engine's numbers on a checkpoint: the card's read
 * bandwidth and the batch-1 floor it implies, decode tokens/s at batch 1 (128- and 8K-token
 * contexts), time to first token (1K and 8K prompts), aggregate decode tokens/s at 16/32/64
 * sequences (128-token prompts) and at 64/128/256 sequences (1K-token prompts), load time, and what
 * batch invariance costs: decode tok/s at 1/32/64/128/256 sequences of 1K context with
 * {@code qwen.batch-invariant} on and off, and their ratio. Every timing goes through {@code step()},
 * so it includes sampling and the host round trip.
 * {@code --yarn-128k} measures instead a 128K-token prompt under YaRN factor 4 (prefill time, decode
 * tok/s at that context, KV bytes). {@code bench --kv-block-sizes [--out FILE]} needs no checkpoint: it times
 * one layer's decode attention at 8K context through fragmented block tables of 16, 32, 64 and 128
 * tokens (the measurement behind the default block size). {@code --served-shape} measures only the
 * served workload ({@link #servedShape}), the yardstick of the server stage's load tests, and
 * {@code --no-served-shape} leaves it out of the full run, {@code --no-settled} the comparisons behind
 * choices already made. {@code --kernel-variants} measures only the kernel choices under trial
 * ({@link #kernelVariants}), {@code --prefill-attention} only the prefill attention kernels and the
 * time to first token on each ({@link #prefillAttention}).
 * {@code bench --table OURS.json PEER.json} prints the comparison table.
 */
public final class GpuBenchCommand implements CliCommand {
    private static final SamplingParams GREEDY = SamplingParams.greedyDecoding();


    /** Bytes one batch-1 decode step must stream for Qwen2.5-7B: all weights but the embedding (a row lookup). */
    static final double BYTES_PER_TOKEN_7B = 14.14e9;

    public static void main(String[] args) throws Exception {
        System.exit(Cli.run(prepend("bench", args), System.in, System.out, System.err));
    }

    private static String[] prepend(String first, String[] rest) {
        String[] a = new String[rest.length + 1];
        a[0] = first;
        System.arraycopy(rest, 0, a, 1, rest.length);
        return a;
    }

    @Override
    public int run(List<String> args, InputStream stdin, PrintStream out, PrintStream err) throws Exception {
        if (args.size() >= 3 && args.get(0).equals("--table")) {
            out.print(table(Path.of(args.get(1)), args.subList(2, args.size()).stream().map(Path::of).toArray(Path[]::new)));
            return 0;
        }
        Path model = null;
        Path outFile = null;
        boolean blockSizes = false;
        boolean yarn = false;
        boolean servedShapeOnly = false;
        boolean variantsOnly = false;
        boolean prefillAttentionOnly = false;
        boolean withServedShape = true;
        boolean withSettled = true;
        boolean batch1Only = false;
        for (int i = 0; i < args.size(); i++) {
            switch (args.get(i)) {
                case "--model" -> model = Path.of(value(args, ++i, "--model"));
                case "--out" -> outFile = Path.of(value(args, ++i, "--out"));
                case "--kv-block-sizes" -> blockSizes = true;
                case "--yarn-128k" -> yarn = true;
                case "--served-shape" -> servedShapeOnly = true;
                case "--kernel-variants" -> variantsOnly = true;
                case "--prefill-attention" -> prefillAttentionOnly = true;
                case "--no-served-shape" -> withServedShape = false;
                case "--no-settled" -> withSettled = false;
                case "--batch1" -> batch1Only = true;
                default -> throw new CliException("unknown argument '" + args.get(i) + "'; usage: bench --model DIR"
                        + " [--yarn-128k | --served-shape | --kernel-variants | --prefill-attention | --batch1 | --no-served-shape]"
                        + " [--no-settled]"
                        + " [--out FILE]"
                        + " | bench --kv-block-sizes [--out FILE] | bench --table OURS.json PEER.json [PEER.json...]");
            }
        }
        if (model == null && !blockSizes) throw new CliException("bench needs --model DIR (or --kv-block-sizes)");
        Map<String, Double> r = new LinkedHashMap<>();
        if (blockSizes) r.putAll(blockSizes(out));
        if (model != null && yarn) r.putAll(yarn128k(model, out));
        else if (model != null && servedShapeOnly) servedShape(model, ModelConfigParser.parseConfig(model.resolve("config.json")), out, r);
        else if (model != null && variantsOnly) r.putAll(kernelVariants(model, out));
        else if (model != null && prefillAttentionOnly) r.putAll(prefillAttention(model, out));
        else if (model != null && batch1Only) r.putAll(batch1Rows(model, out));
        else if (model != null) r.putAll(measure(model, out, withServedShape, withSettled));
        StringBuilder json = new StringBuilder("{");
        r.forEach((k, v) -> json.append(json.length() > 1 ? ",\n" : "\n").append("  \"").append(k).append("\": ").append(v));
        json.append("\n}\n");
        out.print(json);
        if (outFile != null) Files.writeString(outFile, json);
        return 0;
    }

    private static String value(List<String> args, int i, String flag) {
        if (i >= args.size()) throw new CliException(flag + " needs a value");
        return args.get(i);
    }

    /** Prompt lengths the time to first token is measured at. */
    static final int[] TTFT_PROMPTS = {1024, 8192};

    /** Best of three prefills of a fresh {@code len}-token random prompt, to its first token, in ms. */
    private static double ttftMillis(CudaEngine e, ModelConfig c, Random rnd, int len) {
        double best = Double.MAX_VALUE;
        for (int rep = 0; rep < 3; rep++) {
            int s = e.openSequence();
            int[] prompt = randomIds(rnd, len, c.vocabSize());
            long t = System.nanoTime();
            e.step(List.of(StepRequest.prefill(s, prompt, GREEDY, 0)));
            best = Math.min(best, secs(t));
            e.freeSequence(s);
        }
        return best * 1e3;
    }

    /**
     * Time to first token at {@link #TTFT_PROMPTS} with every chunk on each {@link PrefillAttention.Tile}
     * and with the engine's choice by chunk length, one engine each on the same weights and prompts:
     * ttft_{len}_{rows16,rows32,wgmma,engine}_ms (wgmma on compute capability 9.0 only).
     */
    private static void prefillTiles(Path dir, ModelConfig c, PrintStream log, Map<String, Double> r) {
        Map<String, PrefillAttention.Tiles> choices = new LinkedHashMap<>();
        java.util.Set<String> warpgroupOnly = new java.util.HashSet<>();
        for (PrefillAttention.Tile t : PrefillAttention.Tile.values()) {
            String name = t.name().toLowerCase(java.util.Locale.ROOT);
            choices.put(name, PrefillAttention.Tiles.only(t));
            if (t.wgmma()) warpgroupOnly.add(name);
        }
        choices.put("engine", PrefillAttention.Tiles.DEFAULT);
        boolean wgmma = true;  // known from the first engine, before the warpgroup tiles' turn (enum order)
        for (Map.Entry<String, PrefillAttention.Tiles> choice : choices.entrySet()) {
            if (!wgmma && warpgroupOnly.contains(choice.getKey())) continue;
            try (Checkpoint ckpt = Checkpoint.open(dir);
                 CudaEngine e = CudaEngine.load(c, ckpt, new KvCacheCapacity(1, 8192 + 256), (done, total, name) -> { },
                         CudaEngine.Options.defaults().withPrefillTiles(choice.getValue()))) {
                wgmma = PrefillGemm.usesWgmma(e.info().computeCapability());
                Random rnd = new Random(23);
                StringBuilder line = new StringBuilder();
                for (int len : TTFT_PROMPTS) {
                    double ms = ttftMillis(e, c, rnd, len);
                    r.put("ttft_" + len + "_" + choice.getKey() + "_ms", ms);
                    line.append(String.format(" %d tokens %.1f ms;", len, ms));
                }
                log.printf("[bench] time to first token, prefill attention %s (%s):%s%n", choice.getKey(), choice.getValue(), line);
            }
        }
    }

    /** Sequences of 8K the main measurement's engine is sized for (batch 1 to 64 sequences share it). */
    static final int MAIN_ENGINE_SEQUENCES = 64;

    /**
     * @param withSettled also the comparisons whose choice is made and documented (the other route for
     *     16-64-row decode batches, multi-tile attention blocks, the prefill attention tiles, the
     *     chunk steps): {@code --no-settled} leaves them out when device time is short
     */
    static Map<String, Double> measure(Path dir, PrintStream log, boolean withServedShape, boolean withSettled) {
        Map<String, Double> r = new LinkedHashMap<>();
        ModelConfig c = ModelConfigParser.parseConfig(dir.resolve("config.json"));
        long t0 = System.nanoTime();
        try (Checkpoint ckpt = Checkpoint.open(dir);
             CudaEngine e = CudaEngine.load(c, ckpt, new KvCacheCapacity(MAIN_ENGINE_SEQUENCES, 8192 + 256),
                     (done, total, name) -> { })) {
            r.put("load_s", secs(t0));
            log.printf("[bench] loaded %s in %.1f s on %s%n", dir, r.get("load_s"), e.info().device());
            log.printf("[bench] decode kernels: %s%n", CudaEngine.Options.defaults().kernels());
            Random rnd = new Random(7);
            // Batch 1 first, as a served batch-1 stream runs: on a card not just heated by the kernel
            // benchmarks' GEMMs. The same rows again after them show what that heat costs.
            tableBatch1Rows(e, c, rnd, log, r);
            handedOffSteps(e, c, rnd, log, r);
            try {
                kernelMeasurements(e, c, log, r);
            } catch (RuntimeException ex) {
                // Diagnostics only: the table's rows below must not be lost with them.
                log.printf("[bench] kernel measurements failed, the engine rows go on: %s%n", ex);
            }
            for (int ctxLen : new int[] {128, 8192}) {
                Batch1 b1 = batch1(e, c, rnd, ctxLen, BATCH1_STEPS);
                r.put("decode_b1_ctx" + ctxLen + "_after_kernel_benchmarks_tok_s", b1.tokS());
                log.printf("[bench] decode batch 1, context %d, after the kernel benchmarks: %.1f tok/s; %s%n", ctxLen,
                        b1.tokS(), b1.split());
            }
            for (int len : TTFT_PROMPTS) {
                double ms = ttftMillis(e, c, rnd, len);
                r.put("ttft_" + len + "_ms", ms);
                log.printf("[bench] time to first token, %d-token prompt: %.1f ms%n", len, ms);
            }
            profile(e, c, rnd, log);
            if (PrefillGemm.usesWgmma(e.info().computeCapability())) {
                wideGemms(e, c, log, r);
                promptGemms(e, c, log, r);
            }
            r.putAll(MaskCostBench.measure(e, c, log));
            String tag = CudaEngine.Options.SKINNY_DEFAULT ? "skinny" : "prefill_gemm";
            decodeBatches(e, c, rnd, log, r, "", tag);
            profileBatch(e, c, rnd, log, 32, tag);
        }
        // Wide batches: 256 sequences of 1K context need 256 x 1.1K tokens of KV, not 256 x 8K.
        try (Checkpoint ckpt = Checkpoint.open(dir);
             CudaEngine e = CudaEngine.load(c, ckpt, KvCacheCapacity.fullyBacked(256, 1024 + 128 + 64,
                     KvCacheCapacity.DEFAULT_BLOCK_SIZE), (done, total, name) -> { })) {
            wideBatches(e, c, new Random(9), log, r);
        }
        batch1Variants(dir, c, log, r);
        invarianceCost(dir, c, log, r);
        if (withSettled) settledComparisons(dir, c, log, r);
        if (withServedShape) servedShape(dir, c, log, r);
        return r;
    }

    /**
     * The table's batch-1 rows alone, measured as {@link #measure} measures them first (same engine
     * size, same warm-up), and the floor they are held to; then {@link #BATCH1_TRACED_CHOICES}. For a
     * run under a kernel tracer (tools/gpu/kernel-trace), which should see little else, and for a
     * short run.
     */
    static Map<String, Double> batch1Rows(Path dir, PrintStream log) {
        Map<String, Double> r = new LinkedHashMap<>();
        ModelConfig c = ModelConfigParser.parseConfig(dir.resolve("config.json"));
        try (Checkpoint ckpt = Checkpoint.open(dir);
             CudaEngine e = CudaEngine.load(c, ckpt, new KvCacheCapacity(MAIN_ENGINE_SEQUENCES, 8192 + 256),
                     (done, total, name) -> { })) {
            log.printf("[bench] decode kernels: %s%n", CudaEngine.Options.defaults().kernels());
            tableBatch1Rows(e, c, new Random(7), log, r);
            batch1Floor(e, log, r);
        }
        batch1Variants(dir, c, log, r, BATCH1_TRACED_CHOICES);
        return r;
    }

    /** The card's read bandwidth (read_bandwidth_gbps) and the batch-1 floor it sets (batch1_floor_tok_s). */
    private static void batch1Floor(CudaEngine e, PrintStream log, Map<String, Double> r) {
        double gbps = e.onDevice(k -> DeviceBenchmarks.readBandwidth(k, 8L << 30, 5));
        r.put("read_bandwidth_gbps", gbps);
        r.put("batch1_floor_tok_s", gbps * 1e9 / BYTES_PER_TOKEN_7B);
        log.printf("[bench] read bandwidth %.0f GB/s -> batch-1 floor %.1f tok/s%n", gbps, r.get("batch1_floor_tok_s"));
    }

    /** The table's batch-1 rows (decode_b1_ctx{128,8192}_{tok_s,graph_us}), after the step path's warm-up. */
    private static void tableBatch1Rows(CudaEngine e, ModelConfig c, Random rnd, PrintStream log, Map<String, Double> r) {
        warmStepPath(e, c, rnd, log, r);
        for (int ctxLen : new int[] {128, 8192}) {
            Batch1 b1 = batch1(e, c, rnd, ctxLen, BATCH1_STEPS);
            r.put("decode_b1_ctx" + ctxLen + "_tok_s", b1.tokS());
            r.put("decode_b1_ctx" + ctxLen + "_graph_us", b1.graphMicros());
            log.printf("[bench] decode batch 1, context %d: %.1f tok/s; %s%n", ctxLen, b1.tokS(), b1.split());
        }
    }

    /**
     * The {@link #batch1Choices} {@link #batch1Rows} runs after the table's rows: the defaults, the
     * attention's early trigger, and short rows as one attention block a row.
     */
    static final java.util.Set<String> BATCH1_TRACED_CHOICES = java.util.Set.of("streamed_norm", "early_attention_trigger",
            "direct_short_rows");

    /** The comparisons behind choices already made (see {@link #measure}'s withSettled). */
    private static void settledComparisons(Path dir, ModelConfig c, PrintStream log, Map<String, Double> r) {
        // The other route for 16-64-row decode batches, measured the same way so one run compares both.
        boolean other = !CudaEngine.Options.SKINNY_DEFAULT;
        String otherTag = other ? "skinny" : "prefill_gemm";
        try (Checkpoint ckpt = Checkpoint.open(dir);
             CudaEngine e = CudaEngine.load(c, ckpt, new KvCacheCapacity(64, 512), (done, total, name) -> { },
                     new CudaEngine.Options(0, true, true, true, other, false))) {
            Random rnd = new Random(8);
            decodeBatches(e, c, rnd, log, r, "_" + otherTag, otherTag);
            profileBatch(e, c, rnd, log, 32, otherTag);
        }
        attentionSpansCost(dir, c, log, r);
        prefillTiles(dir, c, log, r);
        chunkSteps(dir, c, log, r);
    }

    /** Streams of the served-shape runs, and the steps each is timed over. */
    static final int[][] SERVED_SHAPE_BATCHES = {{16, 1024}, {64, 1024}, {256, 256}};
    /** Prompt and reply of every served-shape stream: the server stage's HTTP load test (about 1,030 and 1,024 tokens). */
    static final int SERVED_PROMPT_TOKENS = 1030;
    static final int SERVED_REPLY_TOKENS = 1024;

    /**
     * The engine alone under the served runs' workload, their yardstick: N streams that each prefill a
     * {@link #SERVED_PROMPT_TOKENS}-token prompt, decode greedily to {@link #SERVED_REPLY_TOKENS}
     * tokens and start again with a new prompt, in steady state. Stream i starts i/N of the way
     * into its reply (its first prompt is longer by that many tokens), so the decodes attend to
     * 1,030-2,054 tokens, 1,542 on average, and a new prompt arrives every 1024/N steps, prefilled in
     * the step beside the others' decodes as the scheduler plans it at its default budget. The
     * decode rows at 1K context measure a cheaper step: shorter attention and no prompts.
     * Reported as served_shape_b{N}_tok_s, every token (a prompt's first one included) over the
     * timed steps' wall time.
     */
    private static void servedShape(Path dir, ModelConfig c, PrintStream log, Map<String, Double> r) {
        int most = 0;
        for (int[] b : SERVED_SHAPE_BATCHES) most = Math.max(most, b[0]);
        try (Checkpoint ckpt = Checkpoint.open(dir);
             CudaEngine e = CudaEngine.load(c, ckpt, KvCacheCapacity.fullyBacked(most, SERVED_PROMPT_TOKENS + SERVED_REPLY_TOKENS
                     + 64, KvCacheCapacity.DEFAULT_BLOCK_SIZE), (done, total, name) -> { })) {
            for (int[] shape : SERVED_SHAPE_BATCHES) {
                int batch = shape[0];
                int steps = shape[1];
                Random rnd = new Random(12);
                int[] seqs = new int[batch];
                int[] toks = new int[batch];
                int[] left = new int[batch];
                for (int i = 0; i < batch; i++) {
                    int into = i * SERVED_REPLY_TOKENS / batch;
                    seqs[i] = e.openSequence();
                    toks[i] = e.step(List.of(StepRequest.prefill(seqs[i], randomIds(rnd, SERVED_PROMPT_TOKENS + into,
                            c.vocabSize()), GREEDY, 0))).get(0).token();
                    left[i] = SERVED_REPLY_TOKENS - 1 - into;
                }
                int prompts = 0;
                long t = System.nanoTime();
                for (int k = 0; k < steps; k++) {
                    List<StepRequest> step = new ArrayList<>(batch);
                    for (int i = 0; i < batch; i++) {
                        if (left[i] == 0) {
                            e.freeSequence(seqs[i]);
                            seqs[i] = e.openSequence();
                            step.add(StepRequest.prefill(seqs[i], randomIds(rnd, SERVED_PROMPT_TOKENS, c.vocabSize()), GREEDY, 0));
                            left[i] = SERVED_REPLY_TOKENS;
                            prompts++;
                        } else {
                            step.add(StepRequest.decode(seqs[i], toks[i], GREEDY, 0));
                        }
                    }
                    var outs = e.step(step);
                    for (int i = 0; i < batch; i++) {
                        toks[i] = outs.get(i).token();
                        left[i]--;
                    }
                }
                double secs = secs(t);
                double tps = (double) batch * steps / secs;
                r.put("served_shape_b" + batch + "_tok_s", tps);
                log.printf("[bench] served shape, %d streams (prompt %d, reply %d, greedy): %.0f tok/s over %d steps, %.2f ms per"
                        + " step, %d new prompts%n", batch, SERVED_PROMPT_TOKENS, SERVED_REPLY_TOKENS, tps, steps,
                        1e3 * secs / steps, prompts);
                for (int s : seqs) e.freeSequence(s);
            }
        }
    }

    /** One projection of a layer as the wgmma GEMM benchmarks time it: its name, epilogue, outputs and K. */
    private record Projection(String name, DeviceBenchmarks.GemmOp op, int n, int k) {
    }

    /** A layer's four projections in {@code c}'s shapes (gate/up as its swiglu outputs). */
    private static List<Projection> projections(ModelConfig c) {
        return List.of(new Projection("qkv", DeviceBenchmarks.GemmOp.F32, c.qkvDim(), c.hiddenSize()),
                new Projection("o", DeviceBenchmarks.GemmOp.RESIDUAL, c.hiddenSize(), c.qDim()),
                new Projection("gateup", DeviceBenchmarks.GemmOp.SWIGLU, c.intermediateSize(), c.hiddenSize()),
                new Projection("down", DeviceBenchmarks.GemmOp.RESIDUAL, c.hiddenSize(), c.intermediateSize()));
    }

    /** Rows of the decode-width passes {@link #wideGemms} times. */
    static final int[] WIDE_GEMM_ROWS = {64, 128, 256};

    /**
     * Each projection of a decode-width pass through the wgmma GEMM, with the engine's tuning (split-K
     * for qkv, o and down; the swiglu tile for the card) and without it (one pass of 128 x 256 tiles),
     * as gemm_{name}_m{rows}_{tuned,untuned}_us: the few tiles of a 64-256-row pass leave most SMs idle.
     */
    private static void wideGemms(CudaEngine e, ModelConfig c, PrintStream log, Map<String, Double> r) {
        List<Projection> shapes = projections(c);
        int sms = e.multiprocessors();
        for (int m : WIDE_GEMM_ROWS) {
            StringBuilder line = new StringBuilder();
            for (Projection sh : shapes) {
                double[] us = new double[2];
                for (int tuned = 0; tuned < 2; tuned++) {
                    boolean t = tuned == 1;
                    us[tuned] = e.onDevice(k -> DeviceBenchmarks.gemmMicros(k, sms, sh.op(), m, sh.n(), sh.k(), t, 5));
                    r.put("gemm_" + sh.name() + "_m" + m + (t ? "_tuned_us" : "_untuned_us"), us[tuned]);
                }
                long weightBytes = 2L * sh.n() * sh.k() * (sh.op() == DeviceBenchmarks.GemmOp.SWIGLU ? 2 : 1);
                line.append(String.format(" %s %.1f -> %.1f us (%.2f TB/s);", sh.name(), us[0], us[1],
                        weightBytes / (us[1] * 1e6)));
            }
            log.printf("[bench] wgmma projections, %d rows, untuned -> tuned:%s%n", m, line);
        }
    }

    /** Prompt rows {@link #promptGemms} times each projection at: the 8K prompt of the TTFT row. */
    static final int PROMPT_GEMM_ROWS = 8192;

    /**
     * Each projection of an 8K-token prefill pass through the engine's wgmma GEMM, as
     * gemm_{name}_m8192_us and its TFLOP/s: the graph peer times cuBLAS on the same shapes, so the
     * TTFT row's gap can be laid at the projections or at attention.
     */
    private static void promptGemms(CudaEngine e, ModelConfig c, PrintStream log, Map<String, Double> r) {
        List<Projection> shapes = projections(c);
        int sms = e.multiprocessors();
        int m = PROMPT_GEMM_ROWS;
        StringBuilder line = new StringBuilder();
        for (Projection sh : shapes) {
            double us = e.onDevice(k -> DeviceBenchmarks.gemmMicros(k, sms, sh.op(), m, sh.n(), sh.k(), true, 3));
            r.put("gemm_" + sh.name() + "_m" + m + "_us", us);
            long outputs = (long) sh.n() * (sh.op() == DeviceBenchmarks.GemmOp.SWIGLU ? 2 : 1);
            line.append(String.format(" %s %.1f us (%.0f TFLOP/s);", sh.name(), us, 2.0 * m * outputs * sh.k() / (us * 1e6)));
        }
        log.printf("[bench] wgmma projections, %d rows:%s%n", m, line);
        if (c.headDim() == 64 || c.headDim() == 128) {
            StringBuilder runs = new StringBuilder();
            for (DeviceBenchmarks.QkvEpilogueRun run : DeviceBenchmarks.QkvEpilogueRun.values()) {
                double us = e.onDevice(k -> DeviceBenchmarks.qkvEpilogueMicros(k, sms, m, c.numAttentionHeads(),
                        c.numKeyValueHeads(), c.headDim(), c.hiddenSize(), run, 3));
                String name = run.name().toLowerCase(java.util.Locale.ROOT);
                r.put("qkv_epilogue_m" + m + "_" + name + "_us", us);
                runs.append(String.format(" %s %.1f us;", name.replace('_', ' '), us));
            }
            log.printf("[bench] qkv projection + bias/RoPE/KV epilogue, %d rows, random operands:%s%n", m, runs);
        }
    }

    /**
     * {@code --kernel-variants}: only the kernel choices under trial: the read bandwidth and its
     * batch-1 floor, the GEMV launch shapes, the prefill attention's block order, the default
     * engine's batch-1 kernel profile, and {@link #batch1Variants}.
     */
    static Map<String, Double> kernelVariants(Path dir, PrintStream log) {
        Map<String, Double> r = new LinkedHashMap<>();
        ModelConfig c = ModelConfigParser.parseConfig(dir.resolve("config.json"));
        try (Checkpoint ckpt = Checkpoint.open(dir);
             CudaEngine e = CudaEngine.load(c, ckpt, new KvCacheCapacity(4, 1024), (done, total, name) -> { })) {
            log.printf("[bench] decode kernels: %s on %s%n", CudaEngine.Options.defaults().kernels(), e.info().device());
            kernelMeasurements(e, c, log, r);
            SamplingParams g = SamplingParams.greedyDecoding();
            int s = e.openSequence();
            int tok = e.step(List.of(StepRequest.prefill(s, randomIds(new Random(3), 128, c.vocabSize()), g, 0))).get(0).token();
            e.profileStep(List.of(StepRequest.decode(s, tok, g, 0)));  // warm-up
            print(log, "decode batch 1, context 130", e.profileStep(List.of(StepRequest.decode(s, tok, g, 0))));
            e.freeSequence(s);
        }
        batch1Variants(dir, c, log, r);
        attentionSpansCost(dir, c, log, r);
        prefillTiles(dir, c, log, r);
        return r;
    }

    /**
     * The prefill attention kernels alone (one layer at 1K and 8K tokens, each tile), the kernel profiles
     * of {@link #profile} on the engine's choice, and the time to first token with every chunk on each tile.
     */
    static Map<String, Double> prefillAttention(Path dir, PrintStream log) {
        Map<String, Double> r = new LinkedHashMap<>();
        ModelConfig c = ModelConfigParser.parseConfig(dir.resolve("config.json"));
        try (Checkpoint ckpt = Checkpoint.open(dir);
             CudaEngine e = CudaEngine.load(c, ckpt, new KvCacheCapacity(1, 8192 + 256), (done, total, name) -> { })) {
            log.printf("[bench] prefill attention on %s%n", e.info().device());
            prefillAttentionOrder(e, c, log, r);
            profile(e, c, new Random(4), log);
        }
        prefillTiles(dir, c, log, r);
        return r;
    }

    /**
     * One layer's causal prefill attention at 1K and 8K tokens with the grid's heads on x (the
     * engine's order: every head's longest query block first) and on y, as
     * prefill_attention_{tokens}_heads_{fastest,slowest}_us, with the default tile; then each
     * {@link PrefillAttention.Tile} with the heads on x as prefill_attention_{tokens}_{tile}_us; then the
     * engine's tile on unit-normal operands (the others are zeros) as prefill_attention_{tokens}_random_us.
     */
    private static void prefillAttentionOrder(CudaEngine e, ModelConfig c, PrintStream log, Map<String, Double> r) {
        boolean wgmma = PrefillGemm.usesWgmma(e.info().computeCapability());
        for (int tokens : new int[] {1024, 8192}) {
            StringBuilder line = new StringBuilder();
            double flops = 4.0 * c.numAttentionHeads() * (tokens * (tokens + 1.0) / 2) * c.headDim();  // QK and PV, causal
            for (boolean fastest : new boolean[] {true, false}) {
                double us = e.onDevice(k -> DeviceBenchmarks.prefillAttentionMicros(k, tokens, c.numAttentionHeads(),
                        c.numKeyValueHeads(), fastest, wgmma, 5));
                r.put("prefill_attention_" + tokens + "_heads_" + (fastest ? "fastest" : "slowest") + "_us", us);
                line.append(String.format(" heads %s %.1f us (%.0f TFLOP/s);", fastest ? "fastest" : "slowest", us,
                        flops / (us * 1e6)));
            }
            for (PrefillAttention.Tile tile : PrefillAttention.Tile.values()) {
                if (tile.wgmma() && !wgmma) continue;
                double us = e.onDevice(k -> DeviceBenchmarks.prefillAttentionMicros(k, tokens, c.numAttentionHeads(),
                        c.numKeyValueHeads(), true, tile, 5));
                r.put("prefill_attention_" + tokens + "_" + tile.name().toLowerCase(java.util.Locale.ROOT) + "_us", us);
                line.append(String.format(" %s%s %.1f us (%.0f TFLOP/s);", tile,
                        tile == PrefillAttention.Tiles.DEFAULT.forTokens(tokens, wgmma) ? " (engine)" : "", us, flops / (us * 1e6)));
            }
            log.printf("[bench] prefill attention, %d tokens, one layer:%s%n", tokens, line);
            PrefillAttention.Tile engine = PrefillAttention.Tiles.DEFAULT.forTokens(tokens, wgmma);
            double us = e.onDevice(k -> DeviceBenchmarks.prefillAttentionMicros(k, tokens, c.numAttentionHeads(),
                    c.numKeyValueHeads(), true, engine, true, 5));
            r.put("prefill_attention_" + tokens + "_random_us", us);
            log.printf("[bench] prefill attention, %d tokens, one layer, unit-normal operands: %s %.1f us (%.0f TFLOP/s)%n", tokens,
                    engine, us, flops / (us * 1e6));
            for (PrefillAttention.Tile tile : PrefillAttention.Tile.values()) {
                if (!tile.wgmma() || !wgmma || tile == engine) continue;
                double other = e.onDevice(k -> DeviceBenchmarks.prefillAttentionMicros(k, tokens, c.numAttentionHeads(),
                        c.numKeyValueHeads(), true, tile, true, 5));
                r.put("prefill_attention_" + tokens + "_" + tile.name().toLowerCase(java.util.Locale.ROOT) + "_random_us", other);
                log.printf("[bench] prefill attention, %d tokens, one layer, unit-normal operands: %s %.1f us (%.0f TFLOP/s)%n",
                        tokens, tile, other, flops / (other * 1e6));
            }
        }
    }

    /**
     * The card's read bandwidth and the batch-1 floor it sets, then the kernels alone: the GEMV launch
     * shapes, the prefill attention's block order and tiles, the decode attention's kernels and
     * spans, and the norm's loads.
     */
    private static void kernelMeasurements(CudaEngine e, ModelConfig c, PrintStream log, Map<String, Double> r) {
        batch1Floor(e, log, r);
        gemvLaunchShapes(e, c, log, r);
        prefillAttentionOrder(e, c, log, r);
        decodeAttentionKernels(e, c, log, r);
        normLoads(e, c, log, r);
    }

    /** Rows {@link #normLoads} times RMSNorm at: decode widths of the GEMM route and an 8K prefill. */
    static final int[] NORM_ROWS = {16, 128, 256, 8192};

    /** RMSNorm of {@link #NORM_ROWS} rows into bf16, one float a load and four: rmsnorm_m{rows}_{scalar,vector}_us. */
    private static void normLoads(CudaEngine e, ModelConfig c, PrintStream log, Map<String, Double> r) {
        StringBuilder line = new StringBuilder();
        for (int rows : NORM_ROWS) {
            double[] us = new double[2];
            for (int v = 0; v < 2; v++) {
                boolean vec = v == 1;
                us[v] = e.onDevice(k -> DeviceBenchmarks.rmsnormMicros(k, rows, c.hiddenSize(), vec, 10));
                r.put("rmsnorm_m" + rows + (vec ? "_vector_us" : "_scalar_us"), us[v]);
            }
            line.append(String.format(" %d rows %.1f -> %.1f us;", rows, us[0], us[1]));
        }
        log.printf("[bench] rmsnorm into bf16, one float a load -> four:%s%n", line);
    }

    /** Sequences {@link #decodeAttentionKernels} times one layer's decode attention for, each at 1K context. */
    static final int[] ATTENTION_ROWS = {1, 16, 64, 128, 256};
    /** Contexts {@link #decodeAttentionKernels} times one sequence's decode attention at, besides 1K. */
    static final int[] ATTENTION_CONTEXTS_B1 = {128, 256, 512, 8192};

    /**
     * One layer's decode attention (partials and combine, or the partial kernel alone when one span
     * covers the context) at {@link #ATTENTION_ROWS} sequences of 1K context and one sequence of each
     * {@link #ATTENTION_CONTEXTS_B1}, through a shuffled table of 64-token blocks: the CUDA-core
     * partials as decode_attention_b{N}_ctx{C}_cuda_cores_us, the tensor-core ones with blocks of every
     * span from 64 tokens to the context (at most 4096) as decode_attention_b{N}_ctx{C}_span{S}_us,
     * and the span the engine picks with multi-tile blocks on as decode_attention_b{N}_ctx{C}_engine_span.
     */
    private static void decodeAttentionKernels(CudaEngine e, ModelConfig c, PrintStream log, Map<String, Double> r) {
        DecodeKernels d = DecodeKernels.defaults().withMmaAttention(true).withAttentionSpans(true);
        List<int[]> cases = new ArrayList<>();
        for (int rows : ATTENTION_ROWS) cases.add(new int[] {rows, 1024});
        for (int ctx : ATTENTION_CONTEXTS_B1) cases.add(new int[] {1, ctx});
        int sms = e.multiprocessors();
        for (int[] cs : cases) {
            String key = "decode_attention_b" + cs[0] + "_ctx" + cs[1];
            double kvBytes = 2.0 * cs[0] * cs[1] * c.numKeyValueHeads() * c.headDim() * 2;
            StringBuilder line = new StringBuilder();
            double cuda = e.onDevice(k -> DeviceBenchmarks.decodeAttentionMicros(k, c.numAttentionHeads(), c.numKeyValueHeads(),
                    c.headDim(), cs[0], cs[1], KvCacheCapacity.DEFAULT_BLOCK_SIZE, d.withMmaAttention(false), 10));
            r.put(key + "_cuda_cores_us", cuda);
            line.append(String.format(" CUDA cores %.1f us (%.2f TB/s of KV); tensor cores, span", cuda, kvBytes / (cuda * 1e6)));
            int engineSpan = DeviceBenchmarks.engineAttentionSpan(d, cs[0], c.numKeyValueHeads(), cs[1], sms);
            r.put(key + "_engine_span", (double) engineSpan);
            for (int span = 64; span <= 4096 && span < 2 * cs[1]; span *= 2) {
                int sp = span;
                double us = e.onDevice(k -> DeviceBenchmarks.decodeAttentionMicros(k, c.numAttentionHeads(), c.numKeyValueHeads(),
                        c.headDim(), cs[0], cs[1], KvCacheCapacity.DEFAULT_BLOCK_SIZE, d, sp, 10));
                r.put(key + "_span" + span + "_us", us);
                line.append(String.format(" %d%s %.1f us (%.2f TB/s),", span, span == engineSpan ? " (engine)" : "", us,
                        kvBytes / (us * 1e6)));
            }
            log.printf("[bench] decode attention, %d sequences of %d tokens, one layer:%s%n", cs[0], cs[1], line);
        }
    }

    /**
     * Engine decode tok/s at {@link #INVARIANCE_BATCHES} sequences of 1K context with multi-tile
     * attention blocks ({@link DecodeKernels#attentionSpans}) and without, the same prompts for both:
     * decode_b{N}_ctx1k_{spans,one_tile}_tok_s and their ratio attention_spans_ratio_b{N}.
     */
    private static void attentionSpansCost(Path dir, ModelConfig c, PrintStream log, Map<String, Double> r) {
        Map<Boolean, double[]> tps = new LinkedHashMap<>();
        for (boolean on : new boolean[] {true, false}) {
            tps.put(on, decodeAt1k(dir, c, CudaEngine.Options.defaults().withKernels(DecodeKernels.defaults().withAttentionSpans(on)),
                    on ? "spans" : "one_tile", on ? "multi-tile attention blocks" : "one-tile attention blocks", false, log, r));
        }
        for (int i = 0; i < INVARIANCE_BATCHES.length; i++) {
            double ratio = tps.get(true)[i] / tps.get(false)[i];
            r.put("attention_spans_ratio_b" + INVARIANCE_BATCHES[i], ratio);
            log.printf("[bench] multi-tile decode attention blocks at %3d sequences, 1K context: %.0f vs %.0f tok/s with one tile"
                    + " a block (%+.1f%%)%n", INVARIANCE_BATCHES[i], tps.get(true)[i], tps.get(false)[i], 100 * (ratio - 1));
        }
    }

    /**
     * Decode tok/s at {@link #INVARIANCE_BATCHES} sequences of 1K context on an engine with options
     * {@code o}, the same prompts for every caller, as decode_b{N}_ctx1k_{mode}_tok_s; then the
     * kernel profile of the widest step (and of one sequence with {@code profileOne}) under {@code label}.
     */
    private static double[] decodeAt1k(Path dir, ModelConfig c, CudaEngine.Options o, String mode, String label,
                                       boolean profileOne, PrintStream log, Map<String, Double> r) {
        double[] t = new double[INVARIANCE_BATCHES.length];
        // Room for 1K prompts plus the 36 steps of each of the five measurements.
        try (Checkpoint ckpt = Checkpoint.open(dir);
             CudaEngine e = CudaEngine.load(c, ckpt, KvCacheCapacity.fullyBacked(256, 1024 + 256 + 64,
                     KvCacheCapacity.DEFAULT_BLOCK_SIZE), (done, total, name) -> { }, o)) {
            int most = INVARIANCE_BATCHES[INVARIANCE_BATCHES.length - 1];
            int[] toks = new int[most];
            int[] seqs = openPrefilled(e, c, new Random(10), most, 1024, toks);
            for (int i = 0; i < INVARIANCE_BATCHES.length; i++) {
                int b = INVARIANCE_BATCHES[i];
                int[] bt = java.util.Arrays.copyOf(toks, b);
                t[i] = timedDecode(e, java.util.Arrays.copyOf(seqs, b), bt);
                System.arraycopy(bt, 0, toks, 0, b);
                r.put("decode_b" + b + "_ctx1k_" + mode + "_tok_s", t[i]);
                log.printf("[bench] %s: decode %d sequences, 1K context: %.0f tok/s aggregate, %.2f ms per step%n", label, b, t[i],
                        1e3 * b / t[i]);
            }
            if (profileOne) {
                print(log, "decode 1 sequence, 1K context, " + label,
                        e.profileStep(decodeStep(java.util.Arrays.copyOf(seqs, 1), java.util.Arrays.copyOf(toks, 1))));
            }
            print(log, "decode " + most + " sequences, 1K context, " + label, e.profileStep(decodeStep(seqs, toks)));
            for (int s : seqs) e.freeSequence(s);
        }
        return t;
    }

    /**
     * One engine {@link #batch1Variants} measures: its name in the results, its decode kernels, and how
     * many sequences of 8K its KV cache is sized for.
     */
    private record Batch1Choice(String name, DecodeKernels kernels, int sequences) {
    }

    /**
     * The engines {@link #batch1Variants} compares. The last has the default kernels in an engine sized
     * as the main table's (64 sequences): the table's batch-1 row has run up to 6% below the same
     * kernels in a one-sequence engine, and this tells the engine's size apart from the way the row
     * is timed.
     */
    private static List<Batch1Choice> batch1Choices() {
        DecodeKernels engine = DecodeKernels.defaults();
        return List.of(new Batch1Choice("block_norm", engine.withStreamedNorm(false), 1),
                new Batch1Choice("streamed_norm", engine.withStreamedNorm(true), 1),
                new Batch1Choice("streamed_norm_unsplit", engine.withStreamedNorm(true).withSplitNormGemv(false), 1),
                new Batch1Choice("one_tile_attention", engine.withAttentionSpans(false), 1),
                new Batch1Choice("no_dependent_launch", engine.withDependentLaunch(false), 1),
                new Batch1Choice("qkv_split", engine.withSplitQkvGemv(true), 1),
                new Batch1Choice("early_attention_trigger", engine.withLateAttentionTrigger(false), 1),
                new Batch1Choice("direct_short_rows", engine.withDirectShortRows(true), 1),
                new Batch1Choice("defaults_64_sequence_engine", engine, MAIN_ENGINE_SEQUENCES));
    }

    /**
     * Batch-1 decode at {@link #BATCH1_VARIANT_CONTEXTS} for each of {@link #batch1Choices}, one engine each
     * on the same weights and prompts, 128 steps after 8: decode_b1_ctx{128,320,8192}_{name}_tok_s. The
     * norm-folding GEMVs with their sums of squares streamed or reduced by each block first, streamed
     * without the K split, the defaults with one-tile attention blocks, the defaults with every kernel
     * waiting for the one before it to finish (no dependent launches), the defaults with the qkv GEMV's K
     * split as gate/up's, the defaults with the attention letting o_proj's GEMV start as soon as every
     * attention block has (not once their loads are issued), the defaults with short rows as one
     * attention block a row and KV head, and the defaults in an engine sized as the main table's.
     */
    private static void batch1Variants(Path dir, ModelConfig c, PrintStream log, Map<String, Double> r) {
        batch1Variants(dir, c, log, r, null);
    }

    /** {@link #batch1Variants} for the choices named in {@code only} (null: every one). */
    private static void batch1Variants(Path dir, ModelConfig c, PrintStream log, Map<String, Double> r, java.util.Set<String> only) {
        for (Batch1Choice v : batch1Choices()) {
            if (only != null && !only.contains(v.name())) continue;
            try (Checkpoint ckpt = Checkpoint.open(dir);
                 CudaEngine e = CudaEngine.load(c, ckpt, new KvCacheCapacity(v.sequences(), 8192 + 256), (done, total, name) -> { },
                         CudaEngine.Options.defaults().withKernels(v.kernels()))) {
                Random rnd = new Random(21);
                StringBuilder line = new StringBuilder();
                for (int ctxLen : BATCH1_VARIANT_CONTEXTS) {
                    Batch1 b1 = batch1(e, c, rnd, ctxLen, BATCH1_STEPS);
                    r.put("decode_b1_ctx" + ctxLen + "_" + v.name() + "_tok_s", b1.tokS());
                    r.put("decode_b1_ctx" + ctxLen + "_" + v.name() + "_graph_us", b1.graphMicros());
                    line.append(String.format(" context %d %.1f tok/s (graph %.1f us);", ctxLen, b1.tokS(), b1.graphMicros()));
                }
                log.printf("[bench] batch 1, %s (%s, KV for %d sequences of 8K):%s%n", v.name(), v.kernels(), v.sequences(), line);
            }
        }
    }

    /**
     * Contexts {@link #batch1Variants} decodes from: the table's two, and 320, whose 128 steps stay within
     * the short rows of {@code AttentionSplits.DIRECT_MAX_TOKENS} past the 256 the first one reaches.
     */
    static final int[] BATCH1_VARIANT_CONTEXTS = {128, 320, 8192};

    /** Timed decode steps of every batch-1 row, after 8 untimed ones. */
    static final int BATCH1_STEPS = 128;

    /**
     * One batch-1 decode measurement: steps a second through {@link CudaEngine#step}, and the GPU
     * time of one replay of the step's graph alone ({@link CudaEngine#replayLastDecodeMicros}).
     */
    record Batch1(double tokS, double graphMicros) {
        /** Wall time of a step outside its graph: staging, the sampling kernels and copies, and the host. */
        double outsideGraphMicros() {
            return 1e6 / tokS - graphMicros;
        }

        String split() {
            return String.format("a step %.1f us, its graph %.1f us, outside the graph %.1f us", 1e6 / tokS, graphMicros,
                    outsideGraphMicros());
        }
    }

    /**
     * Batch 1 at 128 tokens of context with every step handed to another thread and waited for, as
     * the engine ran its device work before its context let callers run it themselves (a worker
     * thread owned the context): decode_b1_ctx128_handed_off_tok_s beside decode_b1_ctx128_tok_s.
     */
    private static void handedOffSteps(CudaEngine e, ModelConfig c, Random rnd, PrintStream log, Map<String, Double> r) {
        ExecutorService other = Executors.newSingleThreadExecutor();
        try {
            StepRunner handedOff = requests -> {
                try {
                    return other.submit(() -> e.step(requests)).get();
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(ex);
                } catch (ExecutionException ex) {
                    throw new IllegalStateException(ex.getCause());
                }
            };
            Batch1 b1 = batch1(e, handedOff, c, rnd, 128, BATCH1_STEPS);
            r.put("decode_b1_ctx128_handed_off_tok_s", b1.tokS());
            log.printf("[bench] decode batch 1, context 128, each step handed to another thread: %.1f tok/s; %s%n", b1.tokS(),
                    b1.split());
        } finally {
            other.shutdown();
        }
    }

    /** How {@link #batch1} runs a step. */
    private interface StepRunner {
        List<SampledToken> step(List<StepRequest> requests);
    }

    private static Batch1 batch1(CudaEngine e, ModelConfig c, Random rnd, int ctxLen, int steps) {
        return batch1(e, e::step, c, rnd, ctxLen, steps);
    }

    /** Untimed decode steps before a batch-1 row: the graph's capture, and the JIT's compilation of the step path. */
    static final int BATCH1_WARMUP_STEPS = 64;

    /** Decode steps {@link #warmStepPath} runs before the first batch-1 row, in windows of {@link #BATCH1_STEPS}. */
    static final int STEP_PATH_WARMUP_STEPS = 1536;

    /**
     * Batch-1 decode steps of a throwaway sequence before the table's batch-1 rows, so that they time
     * the step path a serving process runs after its first seconds, not a process's first steps
     * (with 64 warm-up steps alone, the first row of a run paid 100-211 us a step outside the graph on
     * H100s, and 18-52 us later in the same run). Logs the first and last windows' speed
     * (step_path_first_tok_s, step_path_last_tok_s); the sequence's context grows from 128 to 1664
     * tokens meanwhile, so the later windows are not faster even when the host's share shrinks.
     */
    private static void warmStepPath(CudaEngine e, ModelConfig c, Random rnd, PrintStream log, Map<String, Double> r) {
        int s = e.openSequence();
        try {
            int tok = e.step(List.of(StepRequest.prefill(s, randomIds(rnd, 128, c.vocabSize()), GREEDY, 0))).get(0).token();
            double first = 0;
            double last = 0;
            long start = System.nanoTime();
            for (int done = 0; done < STEP_PATH_WARMUP_STEPS; done += BATCH1_STEPS) {
                long t = System.nanoTime();
                for (int i = 0; i < BATCH1_STEPS; i++) tok = e.step(List.of(StepRequest.decode(s, tok, GREEDY, 0))).get(0).token();
                last = BATCH1_STEPS / secs(t);
                if (done == 0) first = last;
            }
            r.put("step_path_first_tok_s", first);
            r.put("step_path_last_tok_s", last);
            log.printf("[bench] step path warm-up: %d batch-1 steps at context 128 in %.1f s, first %d %.1f tok/s, last %d %.1f tok/s%n",
                    STEP_PATH_WARMUP_STEPS, secs(start), BATCH1_STEPS, first, BATCH1_STEPS, last);
        } finally {
            e.freeSequence(s);
        }
    }

    /**
     * Greedy batch-1 decode of one new sequence: a random {@code ctxLen}-token prompt,
     * {@link #BATCH1_WARMUP_STEPS} decode steps untimed, then {@code steps} timed, then the last step's
     * graph replayed alone; the sequence is freed. With 8 untimed steps the first row of a run paid
     * 211 us a step outside the graph against 18 us later in the same run (an H100 machine): host code
     * not yet compiled, which a serving process pays only in its first seconds.
     */
    private static Batch1 batch1(CudaEngine e, StepRunner runner, ModelConfig c, Random rnd, int ctxLen, int steps) {
        int s = e.openSequence();
        int tok = e.step(List.of(StepRequest.prefill(s, randomIds(rnd, ctxLen, c.vocabSize()), GREEDY, 0))).get(0).token();
        for (int i = 0; i < BATCH1_WARMUP_STEPS; i++) tok = runner.step(List.of(StepRequest.decode(s, tok, GREEDY, 0))).get(0).token();
        int fed = tok;
        long t = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            fed = tok;
            tok = runner.step(List.of(StepRequest.decode(s, fed, GREEDY, 0))).get(0).token();
        }
        double tps = steps / secs(t);
        double graphUs = e.replayLastDecodeMicros(s, fed, steps);
        e.freeSequence(s);
        return new Batch1(tps, graphUs);
    }

    /** Warps per weight-row pair {@link #gemvLaunchShapes} tries (gemv.cu's K split). */
    static final int[] GEMV_SPLITS = {1, 2, 4};

    /**
     * Batch-1 GEMVs of the model's qkv (timed in residual mode: the same stream of weights without the
     * KV write), o_proj, down_proj and gate/up (SwiGLU mode) with the K split over
     * {@link #GEMV_SPLITS} warps a row pair, as gemv_{name}_ks{splits}_us, beside the split the engine
     * takes (gemv_{name}_engine_splits): the small matrices have too few row pairs to keep enough
     * loads in flight with one warp each.
     */
    private static void gemvLaunchShapes(CudaEngine e, ModelConfig c, PrintStream log, Map<String, Double> r) {
        // mode: what the benchmark times; engineMode: the launch whose warps and split it reproduces.
        record Shape(String name, CudaKernels.GemvMode mode, CudaKernels.GemvMode engineMode, int n, int k) {
        }
        CudaKernels.GemvMode residual = CudaKernels.GemvMode.RESIDUAL;
        CudaKernels.GemvMode swiglu = CudaKernels.GemvMode.SWIGLU;
        List<Shape> shapes = List.of(new Shape("qkv", residual, CudaKernels.GemvMode.QKV, c.qkvDim(), c.hiddenSize()),
                new Shape("o", residual, residual, c.hiddenSize(), c.qDim()),
                new Shape("down", residual, residual, c.hiddenSize(), c.intermediateSize()),
                new Shape("gateup", swiglu, swiglu, 2 * c.intermediateSize(), c.hiddenSize()));
        for (Shape sh : shapes) {
            StringBuilder line = new StringBuilder();
            int warps = DeviceBenchmarks.gemvWarps(sh.engineMode());
            for (int splits : GEMV_SPLITS) {
                double us = e.onDevice(k -> DeviceBenchmarks.gemvMicros(k, sh.mode(), sh.n(), sh.k(), 1, warps, splits, 5));
                r.put("gemv_" + sh.name() + "_ks" + splits + "_us", us);
                line.append(String.format(" split %d %.1f us (%.2f TB/s);", splits, us, 2.0 * sh.n() * sh.k() / (us * 1e6)));
            }
            int engine = DeviceBenchmarks.gemvSplits(sh.engineMode(), sh.k());
            r.put("gemv_" + sh.name() + "_engine_splits", (double) engine);
            log.printf("[bench] batch-1 GEMV %s %dx%d, %d warps a block:%s the engine splits %d%n", sh.name(), sh.n(), sh.k(),
                    warps, line, engine);
        }
    }

    /** Positions of the long prompt at which {@link #chunkSteps} times a chunk. */
    static final int[] CHUNK_POSITIONS = {0, 8192, 16384, 30208};

    /**
     * The steps of a long prompt's prefill among 16 streams decoding at 1K context, as the server's
     * scheduler plans them at max-batched-tokens 512: at each of {@link #CHUNK_POSITIONS}, a step of
     * the 16 decodes and a 496-token chunk, with the decodes riding the chunk's pass (mixed) and in a
     * pass of their own (separate, the other engine setting), then a 512-token chunk alone and the
     * 16 decodes alone. The chunk's growth with its position is what the scheduler's
     * attention break-even models: a 512-token chunk at p costs (1 + (p + 256) / breakEven) times one at 0.
     */
    private static void chunkSteps(Path dir, ModelConfig c, PrintStream log, Map<String, Double> r) {
        int streams = 16;
        int maxTokens = Math.min(c.contextLength(), CHUNK_POSITIONS[CHUNK_POSITIONS.length - 1] + 2048);
        for (boolean mixed : new boolean[] {true, false}) {
            CudaEngine.Options o = CudaEngine.Options.defaults();
            o = o.withKernels(o.kernels().withMixedSteps(mixed));
            String mode = mixed ? "mixed" : "separate";
            try (Checkpoint ckpt = Checkpoint.open(dir);
                 CudaEngine e = CudaEngine.load(c, ckpt, KvCacheCapacity.fullyBacked(streams + 1, maxTokens,
                         KvCacheCapacity.DEFAULT_BLOCK_SIZE), (done, total, name) -> { }, o)) {
                Random rnd = new Random(11);
                int[] toks = new int[streams];
                int[] seqs = openPrefilled(e, c, rnd, streams, 1024, toks);
                for (int p : CHUNK_POSITIONS) {
                    int s = e.openSequence();
                    for (int held = 0; held < p; held += 2048) {
                        // The last filler samples, so the step waits for its pass: a chunk that picks
                        // nothing returns before its kernels run, and they would be timed below.
                        boolean last = held + 2048 >= p;
                        e.step(List.of(StepRequest.chunk(s, randomIds(rnd, Math.min(2048, p - held), c.vocabSize()), 0, last,
                                GREEDY, 0)));
                    }
                    List<StepRequest> step = new ArrayList<>(decodeStep(seqs, toks));
                    step.add(StepRequest.chunk(s, randomIds(rnd, 512 - streams, c.vocabSize()), 0, true, GREEDY, 0));
                    long t = System.nanoTime();
                    var outs = e.step(step);
                    double withDecodes = secs(t) * 1e3;
                    for (int j = 0; j < streams; j++) toks[j] = outs.get(j).token();
                    r.put("chunk_step_p" + p + "_" + mode + "_ms", withDecodes);
                    if (mixed) {
                        t = System.nanoTime();
                        e.step(List.of(StepRequest.chunk(s, randomIds(rnd, 512, c.vocabSize()), 0, true, GREEDY, 0)));
                        double alone = secs(t) * 1e3;
                        double decodes = Double.MAX_VALUE;
                        for (int i = 0; i < 3; i++) {
                            t = System.nanoTime();
                            outs = e.step(decodeStep(seqs, toks));
                            decodes = Math.min(decodes, secs(t) * 1e3);
                            for (int j = 0; j < streams; j++) toks[j] = outs.get(j).token();
                        }
                        r.put("chunk_step_p" + p + "_chunk_alone_ms", alone);
                        r.put("chunk_step_p" + p + "_decodes_alone_ms", decodes);
                        log.printf("[bench] long prompt at %5d among %d streams: chunk 512 alone %.1f ms, %d decodes alone %.1f ms,"
                                + " chunk %d + decodes in one pass %.1f ms%n", p, streams, alone, streams, decodes, 512 - streams,
                                withDecodes);
                    } else {
                        log.printf("[bench] long prompt at %5d among %d streams: chunk %d + decodes in separate passes %.1f ms%n",
                                p, streams, 512 - streams, withDecodes);
                    }
                    e.freeSequence(s);
                }
                for (int s : seqs) e.freeSequence(s);
            }
        }
        double first = r.get("chunk_step_p0_chunk_alone_ms");
        int last = CHUNK_POSITIONS[CHUNK_POSITIONS.length - 1];
        double growth = r.get("chunk_step_p" + last + "_chunk_alone_ms") / first;
        // 512-token chunk at p over one at 0 = 1 + (p + 256) / breakEven (the 256: the chunk's own mean position).
        double breakEven = growth > 1 ? (last + 256) / (growth - 1) : Double.POSITIVE_INFINITY;
        r.put("chunk_attention_break_even_tokens", breakEven);
        log.printf("[bench] a 512-token chunk at %d costs %.2fx one at 0: attention break-even %.0f tokens (the engine assumes %d)%n",
                last, growth, breakEven, CudaEngine.attentionBreakEvenOf(c));
    }

    /** Sequence counts of the batch-invariance comparison. */
    static final int[] INVARIANCE_BATCHES = {1, 32, 64, 128, 256};

    /**
     * Decode tok/s at {@link #INVARIANCE_BATCHES} sequences of 1K context with batch invariance on
     * (decode_b{N}_ctx1k_invariant_tok_s) and off (..._variable_tok_s), the same prompts for both,
     * and on/off as batch_invariant_ratio_b{N} (1.0: free; 0.95: 5% slower).
     */
    private static void invarianceCost(Path dir, ModelConfig c, PrintStream log, Map<String, Double> r) {
        Map<Boolean, double[]> tps = new LinkedHashMap<>();
        for (boolean on : new boolean[] {true, false}) {
            tps.put(on, decodeAt1k(dir, c, CudaEngine.Options.defaults().withBatchInvariant(on), on ? "invariant" : "variable",
                    "batch-invariant " + (on ? "on" : "off"), true, log, r));
        }
        for (int i = 0; i < INVARIANCE_BATCHES.length; i++) {
            double ratio = tps.get(true)[i] / tps.get(false)[i];
            r.put("batch_invariant_ratio_b" + INVARIANCE_BATCHES[i], ratio);
            log.printf("[bench] batch invariance at %3d sequences: %.0f vs %.0f tok/s, on/off %.3f (%+.1f%%)%n",
                    INVARIANCE_BATCHES[i], tps.get(true)[i], tps.get(false)[i], ratio, 100 * (ratio - 1));
        }
    }

    /** Aggregate decode tok/s at 16/32/64 sequences (128-token prompts), into r as decode_b{N}_tok_s + suffix. */
    private static void decodeBatches(CudaEngine e, ModelConfig c, Random rnd, PrintStream log, Map<String, Double> r,
                                      String suffix, String route) {
        for (int batch : new int[] {16, 32, 64}) {
            int[] toks = new int[batch];
            int[] seqs = openPrefilled(e, c, rnd, batch, 128, toks);
            double tps = timedDecode(e, seqs, toks);
            r.put("decode_b" + batch + "_tok_s" + suffix, tps);
            log.printf("[bench] decode %d sequences (%s): %.0f tok/s aggregate, %.2f ms per step%n", batch, route, tps,
                    1e3 * batch / tps);
            for (int s : seqs) e.freeSequence(s);
        }
    }

    /**
     * Aggregate decode tok/s at 16, 64, 128 and 256 sequences with 1K-token prompts, as decode_b{N}_ctx1k_tok_s.
     * The engine cuts such a step into passes of its workspace's decode rows (256 on cards of 40 GiB or more).
     */
    private static void wideBatches(CudaEngine e, ModelConfig c, Random rnd, PrintStream log, Map<String, Double> r) {
        // 16 and 64 at 1K as well: the served load test's contexts, to hold the served 16- and 64-client rows against.
        for (int batch : new int[] {16, 64, 128, 256}) {
            int[] toks = new int[batch];
            int[] seqs = openPrefilled(e, c, rnd, batch, 1024, toks);
            double tps = timedDecode(e, seqs, toks);
            r.put("decode_b" + batch + "_ctx1k_tok_s", tps);
            log.printf("[bench] decode %d sequences, 1K context: %.0f tok/s aggregate, %.2f ms per step%n", batch, tps,
                    1e3 * batch / tps);
            // Kernel time of one such step: the rest of the step's wall time is host work.
            print(log, "decode " + batch + " sequences, 1K context", e.profileStep(decodeStep(seqs, toks)));
            for (int s : seqs) e.freeSequence(s);
        }
    }

    /** Opens {@code batch} sequences, each prefilled with a random prompt; their first tokens go into {@code toks}. */
    private static int[] openPrefilled(CudaEngine e, ModelConfig c, Random rnd, int batch, int promptTokens, int[] toks) {
        int[] seqs = new int[batch];
        for (int i = 0; i < batch; i++) {
            seqs[i] = e.openSequence();
            toks[i] = e.step(List.of(StepRequest.prefill(seqs[i], randomIds(rnd, promptTokens, c.vocabSize()), GREEDY, 0)))
                    .get(0).token();
        }
        return seqs;
    }

    /** Aggregate tok/s of 32 greedy decode steps over all of {@code seqs}, after 4 untimed ones; updates {@code toks}. */
    private static double timedDecode(CudaEngine e, int[] seqs, int[] toks) {
        int steps = 32;
        long t = 0;
        for (int i = -4; i < steps; i++) {
            if (i == 0) t = System.nanoTime();
            var outs = e.step(decodeStep(seqs, toks));
            for (int j = 0; j < seqs.length; j++) toks[j] = outs.get(j).token();
        }
        return (double) seqs.length * steps / secs(t);
    }

    private static List<StepRequest> decodeStep(int[] seqs, int[] toks) {
        List<StepRequest> reqs = new ArrayList<>();
        for (int j = 0; j < seqs.length; j++) reqs.add(StepRequest.decode(seqs[j], toks[j], GREEDY, 0));
        return reqs;
    }

    /**
     * A 128K-token prompt on the checkpoint with YaRN factor 4 over its native window: prefill time,
     * batch-1 decode tok/s at that context, and the KV bytes the sequence holds.
     */
    static Map<String, Double> yarn128k(Path dir, PrintStream log) {
        Map<String, Double> r = new LinkedHashMap<>();
        ModelConfig base = ModelConfigParser.parseConfig(dir.resolve("config.json"));
        ModelConfig c = withYarn(base, 4.0);
        if (c.contextLength() < 128 * 1024) {
            log.printf("[bench] yarn: the context with factor 4 is %d tokens, under 128K; skipped%n", c.contextLength());
            return r;
        }
        // The prompt fills the 128K context but for the decode steps measured after it.
        int cap = c.contextLength();
        int len = cap - 64;
        try (Checkpoint ckpt = Checkpoint.open(dir);
             CudaEngine e = CudaEngine.load(c, ckpt, KvCacheCapacity.fullyBacked(1, cap, KvCacheCapacity.DEFAULT_BLOCK_SIZE),
                     (done, total, name) -> { })) {
            SamplingParams g = SamplingParams.greedyDecoding();
            int s = e.openSequence();
            int[] prompt = randomIds(new Random(11), len, c.vocabSize());
            long t = System.nanoTime();
            int tok = e.step(List.of(StepRequest.prefill(s, prompt, g, 0))).get(0).token();
            double prefill = secs(t);
            for (int i = 0; i < 4; i++) tok = e.step(List.of(StepRequest.decode(s, tok, g, 0))).get(0).token();
            int steps = 32;
            t = System.nanoTime();
            for (int i = 0; i < steps; i++) tok = e.step(List.of(StepRequest.decode(s, tok, g, 0))).get(0).token();
            double tps = steps / secs(t);
            long kvBytes = (long) e.sequenceLength(s) * 2L * c.numHiddenLayers() * c.numKeyValueHeads() * c.headDim() * 2;
            r.put("yarn_prefill_128k_s", prefill);
            r.put("yarn_decode_b1_ctx128k_tok_s", tps);
            r.put("yarn_kv_bytes_128k", (double) kvBytes);
            log.printf("[bench] YaRN x4, 128K-token prompt: prefill %.1f s (%.0f tok/s), decode %.1f tok/s, KV %.2f GiB%n",
                    prefill, len / prefill, tps, kvBytes / (double) (1L << 30));
            e.freeSequence(s);
        }
        return r;
    }

    /** The config with YaRN rope scaling of {@code factor} over its native window. */
    static ModelConfig withYarn(ModelConfig c, double factor) {
        return new ModelConfig(c.modelType(), c.hiddenSize(), c.intermediateSize(), c.numHiddenLayers(),
                c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim(), c.vocabSize(), c.maxPositionEmbeddings(),
                c.ropeTheta(), c.rmsNormEps(), c.tieWordEmbeddings(),
                new RopeScaling("yarn", factor, c.maxPositionEmbeddings(), null, 32.0, 1.0), c.torchDtype());
    }

    /** KV block sizes the micro-benchmark compares. */
    static final int[] BLOCK_SIZES = {16, 32, 64, 128};

    /**
     * One layer's decode attention (Qwen2.5-7B heads) at 8K context through shuffled block tables, at
     * 1 and 64 sequences, per block size: attn_kv{B}_b{rows}_ctx8k_us.
     */
    static Map<String, Double> blockSizes(PrintStream log) {
        Map<String, Double> r = new LinkedHashMap<>();
        try (CudaContext ctx = CudaContext.create(0)) {
            KernelModule module = ctx.call(KernelModule::load);
            try {
                CudaKernels k = new CudaKernels(module, ctx.stream());
                for (int rows : new int[] {1, 64}) {
                    for (int bs : BLOCK_SIZES) {
                        double us = ctx.call(() -> DeviceBenchmarks.decodeAttentionMicros(k, 28, 4, 128, rows, 8192, bs, 20));
                        r.put("attn_kv" + bs + "_b" + rows + "_ctx8k_us", us);
                        log.printf("[bench] decode attention, %d sequence(s) x 8K context, blocks of %3d: %8.1f us per layer%n",
                                rows, bs, us);
                    }
                }
            } finally {
                ctx.run(module::close);
            }
        }
        return r;
    }

    /** Per-kernel times of one eager decode step over {@code batch} sequences with 128-token contexts. */
    private static void profileBatch(CudaEngine e, ModelConfig c, Random rnd, PrintStream log, int batch, String route) {
        SamplingParams g = SamplingParams.greedyDecoding();
        int[] seqs = new int[batch];
        List<StepRequest> reqs = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            seqs[i] = e.openSequence();
            int tok = e.step(List.of(StepRequest.prefill(seqs[i], randomIds(rnd, 128, c.vocabSize()), g, 0))).get(0).token();
            reqs.add(StepRequest.decode(seqs[i], tok, g, 0));
        }
        e.profileStep(reqs);  // warm-up
        List<StepRequest> next = new ArrayList<>();
        for (StepRequest q : reqs) next.add(StepRequest.decode(q.sequence(), 5, g, 0));
        print(log, "decode " + batch + " sequences (" + route + ")", e.profileStep(next));
        for (int s : seqs) e.freeSequence(s);
    }

    /** Per-kernel times of one batch-1 decode step (context 128) and one 1K prefill, run eagerly. */
    private static void profile(CudaEngine e, ModelConfig c, Random rnd, PrintStream log) {
        SamplingParams g = SamplingParams.greedyDecoding();
        int s = e.openSequence();
        int tok = e.step(List.of(StepRequest.prefill(s, randomIds(rnd, 128, c.vocabSize()), g, 0))).get(0).token();
        e.profileStep(List.of(StepRequest.decode(s, tok, g, 0)));  // warm-up
        print(log, "decode batch 1, context 130", e.profileStep(List.of(StepRequest.decode(s, tok, g, 0))));
        e.freeSequence(s);
        s = e.openSequence();
        print(log, "prefill 1024 tokens", e.profileStep(List.of(StepRequest.prefill(s, randomIds(rnd, 1024, c.vocabSize()), g, 0))));
        e.freeSequence(s);
        s = e.openSequence();
        print(log, "prefill 8192 tokens", e.profileStep(List.of(StepRequest.prefill(s, randomIds(rnd, 8192, c.vocabSize()), g, 0))));
        e.freeSequence(s);
    }

    private static void print(PrintStream log, String what, Map<String, double[]> t) {
        double total = 0;
        for (double[] v : t.values()) total += v[0];
        log.printf("[profile] %s: %.3f ms in kernels%n", what, total);
        for (Map.Entry<String, double[]> en : t.entrySet()) {
            log.printf("[profile]   %-36s %9.1f us  %4d launches  %7.1f us each%n", en.getKey(), en.getValue()[0] * 1e3,
                    (int) en.getValue()[1], en.getValue()[0] * 1e3 / en.getValue()[1]);
        }
    }

    private static int[] randomIds(Random r, int n, int vocab) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = 3 + r.nextInt(vocab - 1003);
        return a;
    }

    private static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * Our results beside each peer's, with ours/peer per peer (for times, peer/ours, so above 1 is
     * always ours ahead). A peer names itself with a "peer" field; one without is transformers.
     */
    static String table(Path ours, Path... peers) throws java.io.IOException {
        JsonMapper m = JsonMapper.builder().build();
        JsonNode a = m.readTree(Files.readString(ours));
        JsonNode[] b = new JsonNode[peers.length];
        for (int i = 0; i < peers.length; i++) b[i] = m.readTree(Files.readString(peers[i]));
        String[][] rows = {
                {"read bandwidth (GB/s)", "read_bandwidth_gbps", "+"},
                {"batch-1 floor (tok/s)", "batch1_floor_tok_s", "+"},
                {"decode batch 1, 128 ctx (tok/s)", "decode_b1_ctx128_tok_s", "+"},
                {"decode batch 1, 8K ctx (tok/s)", "decode_b1_ctx8192_tok_s", "+"},
                {"TTFT 1K prompt (ms)", "ttft_1024_ms", "-"},
                {"TTFT 8K prompt (ms)", "ttft_8192_ms", "-"},
                {"decode 16 seqs (tok/s)", "decode_b16_tok_s", "+"},
                {"decode 32 seqs (tok/s)", "decode_b32_tok_s", "+"},
                {"decode 64 seqs (tok/s)", "decode_b64_tok_s", "+"},
                {"decode 128 seqs, 1K ctx (tok/s)", "decode_b128_ctx1k_tok_s", "+"},
                {"decode 256 seqs, 1K ctx (tok/s)", "decode_b256_ctx1k_tok_s", "+"},
                {"load 7B checkpoint (s)", "load_s", "-"},
        };
        StringBuilder s = new StringBuilder("| metric | qwen-chat CUDA |");
        StringBuilder rule = new StringBuilder("|---|---:|");
        for (JsonNode peer : b) {
            String name = peer.has("peer") ? peer.get("peer").asString() : "transformers (SDPA, no compile)";
            s.append(' ').append(name).append(" | ours / peer |");
            rule.append("---:|---:|");
        }
        s.append('\n').append(rule).append('\n');
        for (String[] row : rows) {
            double x = number(a, row[1]);
            s.append(String.format("| %s | %s |", row[0], fmt(x)));
            for (JsonNode peer : b) {
                double y = number(peer, row[1]);
                double ratio = row[2].equals("+") ? x / y : y / x;
                s.append(String.format(" %s | %s |", fmt(y), Double.isNaN(ratio) ? "-" : String.format("%.2fx", ratio)));
            }
            s.append(System.lineSeparator());
        }
        return s.toString();
    }

    /** A row's value, NaN where the run has none (or recorded null for a row that failed). */
    private static double number(JsonNode n, String key) {
        return n.has(key) && n.get(key).isNumber() ? n.get(key).asDouble() : Double.NaN;
    }

    private static String fmt(double v) {
        if (Double.isNaN(v)) return "-";
        return v >= 100 ? String.format("%.0f", v) : String.format("%.2f", v);
    }
}

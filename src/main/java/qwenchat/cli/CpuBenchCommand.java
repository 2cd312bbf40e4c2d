package qwenchat.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import qwenchat.demo.DemoCheckpoint;
import qwenchat.demo.SyntheticCheckpoint;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.cpu.CpuEngine;
import qwenchat.engine.cpu.CpuEngineOptions;
import qwenchat.engine.sampling.Sampler;
import qwenchat.model.ModelConfig;
import qwenchat.weights.ModelDirectory;
import qwenchat.weights.Checkpoint;

/**
 * {@code bench-cpu [--model DIR] [--prompt-tokens N] [--decode-tokens N] [--threads N] [--repeats N]}:
 * prefill and decode throughput of the CPU engine on the demo checkpoint and on a seeded random
 * checkpoint with Qwen2.5-0.5B's shapes (written once to ~/.cache/qwen-chat), or on {@code --model}.
 */
public final class CpuBenchCommand implements CliCommand {

    @Override
    public int run(List<String> args, InputStream stdin, PrintStream out, PrintStream err) {
        TokenizerArgs o = new TokenizerArgs("bench-cpu", args,
                Set.of("--model", "--prompt-tokens", "--decode-tokens", "--threads", "--repeats"), Set.of());
        int promptTokens = positive(o, "--prompt-tokens", 64);
        int decodeTokens = positive(o, "--decode-tokens", 16);
        int threads = positive(o, "--threads", Runtime.getRuntime().availableProcessors());
        int repeats = positive(o, "--repeats", 3);
        List<ModelDirectory> models = new ArrayList<>();
        if (o.has("--model")) {
            models.add(ModelDirectory.resolve(Path.of(o.required("--model"))));
        } else {
            models.add(DemoCheckpoint.ensure());
            SyntheticCheckpoint.Shape shape = SyntheticCheckpoint.QWEN25_0_5B;
            err.println("bench-cpu: preparing random " + shape.name() + "-shaped weights in "
                    + SyntheticCheckpoint.defaultDirectory(shape) + " (first run writes ~1 GB)");
            models.add(SyntheticCheckpoint.ensure(shape, SyntheticCheckpoint.defaultDirectory(shape), 20261128L));
        }
        out.printf("threads %d, prompt %d tokens, decode %d tokens, best of %d%n", threads, promptTokens,
                decodeTokens, repeats);
        out.println("| model | params | weights streamed/token | prefill tok/s | decode tok/s | decode GB/s |");
        out.println("|---|---|---|---|---|---|");
        for (ModelDirectory m : models) {
            Result r = bench(m, promptTokens, decodeTokens, threads, repeats);
            out.printf("| %s | %.1fM | %.1f MB | %.1f | %.2f | %.2f |%n", m.displayName(),
                    m.config().parameterCount() / 1e6, r.bytesPerToken / 1e6, r.prefillTokensPerSecond,
                    r.decodeTokensPerSecond, r.bytesPerToken * r.decodeTokensPerSecond / 1e9);
            out.flush();
        }
        return 0;
    }

    private record Result(double prefillTokensPerSecond, double decodeTokensPerSecond, long bytesPerToken) {
    }

    private static Result bench(ModelDirectory m, int promptTokens, int decodeTokens, int threads, int repeats) {
        ModelConfig c = m.config();
        Random random = new Random(1);
        int[] prompt = new int[promptTokens];
        for (int i = 0; i < prompt.length; i++) prompt[i] = random.nextInt(c.vocabSize());
        try (Checkpoint ckpt = m.openCheckpoint();
                CpuEngine e = CpuEngine.load(c, ckpt, new KvCacheCapacity(1, promptTokens + decodeTokens + 1),
                        CpuEngineOptions.defaults().withThreads(threads))) {
            runOnce(e, java.util.Arrays.copyOf(prompt, Math.min(8, prompt.length)), 2); // JIT warm-up
            double bestPrefill = 0;
            double bestDecode = 0;
            for (int r = 0; r < repeats; r++) {
                double[] t = runOnce(e, prompt, decodeTokens);
                bestPrefill = Math.max(bestPrefill, promptTokens / t[0]);
                bestDecode = Math.max(bestDecode, decodeTokens / t[1]);
            }
            return new Result(bestPrefill, bestDecode, streamedBytesPerToken(c));
        }
    }

    /** Seconds for the prefill and for the decode steps. */
    private static double[] runOnce(CpuEngine e, int[] prompt, int decodeTokens) {
        int seq = e.openSequence();
        try {
            long t0 = System.nanoTime();
            float[] logits = e.prefillLogits(seq, prompt, false)[0];
            long t1 = System.nanoTime();
            for (int i = 0; i < decodeTokens; i++) {
                logits = e.decodeLogits(new int[] {seq}, new int[] {Sampler.argmax(logits)})[0];
            }
            long t2 = System.nanoTime();
            return new double[] {(t1 - t0) / 1e9, (t2 - t1) / 1e9};
        } finally {
            e.freeSequence(seq);
        }
    }

    /** Weight bytes a decode step reads: every layer matrix and the lm_head (one embedding row is negligible). */
    static long streamedBytesPerToken(ModelConfig c) {
        long h = c.hiddenSize();
        long perLayer = h * c.qkvDim() + (long) c.qDim() * h + 3L * h * c.intermediateSize();
        return 2 * (c.numHiddenLayers() * perLayer + (long) c.vocabSize() * h);
    }

    private static int positive(TokenizerArgs o, String option, int fallback) {
        if (!o.has(option)) return fallback;
        try {
            int v = Integer.parseInt(o.required(option));
            if (v < 1) throw new CliException("bench-cpu: " + option + " must be >= 1, got " + v);
            return v;
        } catch (NumberFormatException e) {
            throw new CliException("bench-cpu: " + option + " needs an integer, got '" + o.required(option) + "'");
        }
    }
}

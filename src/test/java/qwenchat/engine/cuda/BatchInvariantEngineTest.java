package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import qwenchat.demo.SyntheticCheckpoint;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.ReferenceData;
import qwenchat.engine.cpu.CpuEngine;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;

/**
 * With batch invariance on (the default), a request's logits are the same bits whatever else is
 * batched with it and however its prompt is chunked, and still the model's logits (the CPU engine
 * agrees). A random checkpoint the tensor-core path takes (hidden 512, intermediate 1024, head_dim
 * 128, non-zero biases), whose qkv, o_proj and down projections all split K, on a pool of 16-token
 * blocks so every sequence's blocks are scattered.
 */
@Tag("gpu")
class BatchInvariantEngineTest {
    static final SyntheticCheckpoint.Shape SHAPE = new SyntheticCheckpoint.Shape("invariance", 512, 1024, 2, 4, 2, 2048, false);
    static final int BLOCK = 16;
    static final int MAX_TOKENS = 512;
    static final int STEPS = 6;

    @TempDir
    static Path tmp;
    static Path dir;
    static ModelConfig config;

    @BeforeAll
    static void checkpoint() {
        GpuTestSupport.assumeGpu();
        dir = tmp.resolve("ckpt");
        config = GpuTestSupport.tensorCoreCheckpoint(SHAPE, dir, 14);
        for (int[] nk : new int[][] {{config.qkvDim(), 512}, {512, config.qDim()}, {512, 1024}}) {
            assertTrue(SkinnyGemm.splits(nk[0], nk[1], SkinnyGemm.residentBlocks(132)) > 1, "split-K at " + Arrays.toString(nk));
        }
    }

    static CudaEngine engine(Checkpoint ckpt, int sequences, CudaEngine.Options options) {
        return CudaEngine.load(config, ckpt, KvCacheCapacity.fullyBacked(sequences, MAX_TOKENS, BLOCK), LoadProgressListener.NONE,
                options);
    }

    static int[] randomTokens(Random r, int n) {
        return GpuTestSupport.randomTokens(r, n, config.vocabSize());
    }

    static int[] bits(float[] logits) {
        int[] b = new int[logits.length];
        for (int i = 0; i < logits.length; i++) b[i] = Float.floatToRawIntBits(logits[i]);
        return b;
    }

    /**
     * The target's logits (prefill's last position, then {@link #STEPS} decode steps on fixed
     * tokens) when {@code others} random sequences (prompts of 1..300 tokens, so longer and shorter
     * than the target's) are decoded in the same steps; the target sits mid-batch.
     */
    static float[][] targetAmong(CudaEngine e, int others, int[] prompt, int[] feed, long seed) {
        Random r = new Random(seed);
        List<Integer> open = new ArrayList<>();
        try {
            int[] seqs = new int[others + 1];
            int at = others / 2;
            int[] next = new int[others + 1];
            float[][] out = new float[STEPS + 1][];
            for (int i = 0; i <= others; i++) {
                seqs[i] = e.openSequence();
                open.add(seqs[i]);
                if (i == at) {
                    out[0] = last(e.prefillLogits(seqs[i], prompt, false));
                } else {
                    e.prefillLogits(seqs[i], randomTokens(r, 1 + r.nextInt(300)), false);
                }
            }
            for (int t = 0; t < STEPS; t++) {
                for (int i = 0; i <= others; i++) next[i] = i == at ? feed[t] : r.nextInt(config.vocabSize());
                out[t + 1] = e.decodeLogits(seqs, next)[at];
            }
            return out;
        } finally {
            for (int s : open) e.freeSequence(s);
        }
    }

    static float[] last(float[][] logits) {
        return logits[logits.length - 1];
    }

    @Test
    void aRequestsLogitsAreBitIdenticalAloneAndAmong31_63_127And255Others() {
        Random r = new Random(1);
        int[] prompt = randomTokens(r, 150);
        int[] feed = randomTokens(r, STEPS);
        try (Checkpoint ckpt = Checkpoint.open(dir); CudaEngine e = engine(ckpt, 256, CudaEngine.Options.defaults().withBatchInvariant(true))) {
            float[][] alone = targetAmong(e, 0, prompt, feed, 2);
            for (int others : new int[] {31, 63, 127, 255}) {
                float[][] among = targetAmong(e, others, prompt, feed, 3 + others);
                for (int t = 0; t <= STEPS; t++) {
                    assertArrayEquals(bits(alone[t]), bits(among[t]), (t == 0 ? "prefill logits" : "decode step " + t)
                            + " alone vs among " + others + " others");
                }
                System.out.printf("[invariance] target among %3d others: prefill + %d decode steps bit-identical to alone%n",
                        others, STEPS);
            }
        }
    }

    /** The route without a skinny GEMM: decode passes through the prefill GEMM, one kernel at every width. */
    @Test
    void withoutTheSkinnyGemmDecodePassesThroughThePrefillGemmAreBatchInvariantToo() {
        Random r = new Random(8);
        int[] prompt = randomTokens(r, 90);
        int[] feed = randomTokens(r, STEPS);
        CudaEngine.Options noSkinny = new CudaEngine.Options(0, true, true, true, false, true);
        try (Checkpoint ckpt = Checkpoint.open(dir); CudaEngine e = engine(ckpt, 100, noSkinny)) {
            float[][] alone = targetAmong(e, 0, prompt, feed, 9);
            // 64 rows would take the narrow wgmma tile and 100 the wide one, were the row count to choose.
            for (int others : new int[] {63, 99}) {
                float[][] among = targetAmong(e, others, prompt, feed, 10 + others);
                for (int t = 0; t <= STEPS; t++) {
                    assertArrayEquals(bits(alone[t]), bits(among[t]), (t == 0 ? "prefill logits" : "decode step " + t)
                            + " alone vs among " + others + " others, prefill GEMM route");
                }
                System.out.printf("[invariance] prefill-GEMM route, target among %d others: bit-identical to alone%n", others);
            }
        }
    }

    @Test
    void aPromptPrefilledWholeOrInChunksGivesBitIdenticalLogitsThenAndAfter() {
        int[] prompt = randomTokens(new Random(4), 333);
        int[] feed = randomTokens(new Random(5), STEPS);
        // "Whole" is one 333-row pass (the workspace holds it), against which each cut below is compared.
        CudaEngine.Options unaligned = new CudaEngine.Options(0, true, true, false, true, true);
        try (Checkpoint ckpt = Checkpoint.open(dir); CudaEngine e = engine(ckpt, 4, unaligned)) {
            float[][] whole = prefilledInChunks(e, prompt, new int[] {333}, feed);
            int[][] cuts = {{64, 64, 64, 64, 64, 13}, {100, 100, 100, 33}, {1, 17, 200, 115}};
            for (int[] cut : cuts) {
                float[][] chunked = prefilledInChunks(e, prompt, cut, feed);
                for (int t = 0; t <= STEPS; t++) {
                    assertArrayEquals(bits(whole[t]), bits(chunked[t]), (t == 0 ? "last prompt position" : "decode step " + t)
                            + ": whole vs chunks " + Arrays.toString(cut));
                }
                System.out.printf("[invariance] prompt of 333 in chunks %s: last-position and %d decode logits bit-identical"
                        + " to one pass%n", Arrays.toString(cut), STEPS);
            }
        }
    }

    /**
     * A prefill that wants only its last row's logits runs the last layer past the keys and values for
     * that row alone; with invariance on, that row's logits and the decode steps after it (which read
     * the last layer's keys and values of every prompt row) are the bits of a pass that computes every
     * row to the end. Off, the one-row tail takes other kernels than the 333-row pass: close, not equal.
     */
    @Test
    void theLastLayerRunForTheSampledRowAloneGivesTheBitsOfAPassThatRunsEveryRow() {
        int[] prompt = randomTokens(new Random(11), 333);
        int[] feed = randomTokens(new Random(12), STEPS);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            for (boolean invariant : new boolean[] {true, false}) {
                try (CudaEngine e = engine(ckpt, 2, CudaEngine.Options.defaults().withBatchInvariant(invariant))) {
                    float[][] everyRow = prefilledThenDecoded(e, prompt, true, feed);
                    float[][] lastRow = prefilledThenDecoded(e, prompt, false, feed);
                    for (int t = 0; t <= STEPS; t++) {
                        String what = (t == 0 ? "last prompt position" : "decode step " + t) + ", invariance " + invariant;
                        if (invariant) {
                            assertArrayEquals(bits(everyRow[t]), bits(lastRow[t]), what);
                        } else {
                            double d = ReferenceData.relativeL2(lastRow[t], everyRow[t]);
                            assertTrue(d < 1e-2, what + ": relative L2 " + d);
                        }
                    }
                    System.out.printf("[invariance] invariance %s: the last layer for the last row alone, then %d decode steps:"
                            + " %s the every-row pass%n", invariant, STEPS, invariant ? "bit-identical to" : "within 1e-2 of");
                }
            }
        }
    }

    /** The last prompt position's logits from a prefill of every position's ({@code allPositions}) or the last one's, then decode steps. */
    static float[][] prefilledThenDecoded(CudaEngine e, int[] prompt, boolean allPositions, int[] feed) {
        int s = e.openSequence();
        try {
            float[][] out = new float[STEPS + 1][];
            float[][] prefill = e.prefillLogits(s, prompt, allPositions);
            assertEquals(allPositions ? prompt.length : 1, prefill.length);
            out[0] = last(prefill);
            for (int t = 0; t < STEPS; t++) out[t + 1] = e.decodeLogits(new int[] {s}, new int[] {feed[t]})[0];
            return out;
        } finally {
            e.freeSequence(s);
        }
    }

    /** The last prompt position's logits, then those of {@link #STEPS} decode steps on {@code feed}. */
    static float[][] prefilledInChunks(CudaEngine e, int[] prompt, int[] cut, int[] feed) {
        assertEquals(prompt.length, Arrays.stream(cut).sum());
        int s = e.openSequence();
        try {
            float[][] out = new float[STEPS + 1][];
            for (int from = 0, i = 0; i < cut.length; from += cut[i++]) {
                out[0] = last(e.prefillLogits(s, Arrays.copyOfRange(prompt, from, from + cut[i]), false));
            }
            for (int t = 0; t < STEPS; t++) out[t + 1] = e.decodeLogits(new int[] {s}, new int[] {feed[t]})[0];
            return out;
        } finally {
            e.freeSequence(s);
        }
    }

    /** Invariance is no excuse for other math: alone and among 63 others, the CPU engine's float32 logits agree. */
    @Test
    void invariantLogitsAgreeWithTheCpuEngine() {
        Random r = new Random(6);
        int[] prompt = randomTokens(r, 150);
        int[] feed = randomTokens(r, STEPS);
        float[][] want = new float[STEPS + 1][];
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            try (CpuEngine cpu = CpuEngine.load(config, ckpt, KvCacheCapacity.fullyBacked(1, MAX_TOKENS, BLOCK))) {
                int s = cpu.openSequence();
                want[0] = last(cpu.prefillLogits(s, prompt, false));
                for (int t = 0; t < STEPS; t++) want[t + 1] = cpu.decodeLogits(new int[] {s}, new int[] {feed[t]})[0];
            }
            try (CudaEngine e = engine(ckpt, 64, CudaEngine.Options.defaults().withBatchInvariant(true))) {
                for (int others : new int[] {0, 63}) {
                    float[][] got = targetAmong(e, others, prompt, feed, 7);
                    double worst = 0;
                    for (int t = 0; t <= STEPS; t++) worst = Math.max(worst, ReferenceData.relativeL2(got[t], want[t]));
                    System.out.printf("[invariance] target among %d others vs CPU engine: worst relL2 %.3e%n", others, worst);
                    assertTrue(worst < 2e-2, "among " + others + " others: worst relative L2 " + worst);
                }
            }
        }
    }
}

package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import qwenchat.engine.KvBlockUsage;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.KvCacheFullException;
import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.ReferenceData;
import qwenchat.engine.StepRequest;
import qwenchat.engine.cpu.CpuEngine;
import qwenchat.engine.sampling.Sampler;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;

/**
 * The CUDA engine's paged KV cache against the CPU engine (the oracle) on the committed tiny
 * checkpoints: sequences whose blocks are scattered over a fragmented pool, block sizes that divide
 * no length, one sequence spanning dozens of blocks, blocks freed by one sequence and reused by
 * another, YaRN past the native window, and a step that does not fit failing without side effects.
 * Every comparison is on logits (relative L2, top-1 up to near-ties, top-5 overlap).
 */
@Tag("gpu")
class PagedKvEngineTest {

    /** Logits of a paged CUDA run against the float32 CPU engine; bf16 KV and weights bound the gap. */
    static final double MAX_REL_L2 = 2e-2;

    static ModelConfig config(ReferenceData ref) {
        return CudaEngineReferenceTest.config(ref);
    }

    static CudaEngine cuda(ModelConfig c, Checkpoint ckpt, int seqs, int blockSize, int totalBlocks) {
        GpuTestSupport.assumeGpu();
        return CudaEngine.load(c, ckpt, new KvCacheCapacity(seqs, c.contextLength(), blockSize, totalBlocks),
                LoadProgressListener.NONE, CudaEngine.Options.defaults());
    }

    static CpuEngine cpu(ModelConfig c, Checkpoint ckpt, int seqs) {
        return CpuEngine.load(c, ckpt, KvCacheCapacity.fullyBacked(seqs, c.contextLength(), 16));
    }

    /** Running worst-case agreement of CUDA logits rows with the CPU engine's. */
    static final class Agreement {
        double worst;
        int rows;
        int top1;
        int top5Overlap;

        void add(float[] gpu, float[] oracle, String where) {
            worst = Math.max(worst, ReferenceData.relativeL2(gpu, oracle));
            int got = Sampler.argmax(gpu);
            if (got == Sampler.argmax(oracle)) {
                top1++;
            } else {
                assertTrue(CudaEngineReferenceTest.withinNearTie(oracle, got), where + ": argmax " + got + " vs CPU "
                        + Sampler.argmax(oracle) + " without a near-tie");
            }
            top5Overlap += overlap(top(gpu, 5), top(oracle, 5));
            rows++;
        }

        void check(String what) {
            System.out.printf("[paged] %-58s worst relL2 %.3e, top-1 %d/%d, top-5 overlap %.2f%n", what, worst, top1, rows,
                    top5Overlap / (5.0 * rows));
            assertTrue(worst < MAX_REL_L2, what + ": worst relL2 " + worst);
            assertTrue(top1 >= 0.95 * rows, what + ": top-1 agreement " + top1 + "/" + rows);
            assertTrue(top5Overlap >= 0.9 * 5 * rows, what + ": top-5 overlap " + top5Overlap + "/" + 5 * rows);
        }
    }

    static int[] top(float[] l, int k) {
        Integer[] idx = new Integer[l.length];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> Float.compare(l[b], l[a]));
        int[] out = new int[k];
        for (int i = 0; i < k; i++) out[i] = idx[i];
        return out;
    }

    static int overlap(int[] a, int[] b) {
        int n = 0;
        for (int x : a) for (int y : b) if (x == y) n++;
        return n;
    }

    /**
     * Fills the pool with one-block fillers and frees them in random order, so later sequences get
     * blocks in a shuffled, non-contiguous order; returns nothing but leaves the pool fragmented.
     */
    static void fragment(CudaEngine e, int fillers, int blockSize, Random r) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < fillers; i++) {
            int s = e.openSequence();
            int[] t = new int[blockSize];
            for (int j = 0; j < blockSize; j++) t[j] = 1 + r.nextInt(100);
            e.prefillLogits(s, t, false);
            ids.add(s);
        }
        Collections.shuffle(ids, r);
        for (int s : ids) e.freeSequence(s);
    }

    static boolean contiguous(int[] blocks) {
        for (int i = 1; i < blocks.length; i++) if (blocks[i] != blocks[i - 1] + 1) return false;
        return true;
    }

    @ParameterizedTest(name = "{0}, blocks of {1}")
    @CsvSource({"tiny-tied-hd128-g3, 16", "tiny-tied-hd128-g3, 5", "tiny-untied-hd64-g2, 7", "tiny-untied-hd64-g2, 64"})
    void interleavedSequencesOnAFragmentedPoolMatchTheCpuEngine(String name, int blockSize) {
        ReferenceData ref = ReferenceData.load(name);
        ModelConfig c = config(ref);
        Random r = new Random(blockSize);
        int n = 3;
        // Enough blocks for the fillers and three sequences of 200 tokens, with little to spare.
        int perSeq = (200 + blockSize - 1) / blockSize;
        int total = n * perSeq + 4;
        try (Checkpoint ckpt = Checkpoint.open(ref.dir()); CudaEngine gpu = cuda(c, ckpt, 40, blockSize, total);
             CpuEngine oracle = cpu(c, ckpt, n)) {
            fragment(gpu, Math.min(36, total), blockSize, r);
            int[] gs = new int[n];
            int[] cs = new int[n];
            Agreement a = new Agreement();
            // Prompts of lengths no block size divides, prefilled in two uneven pieces per sequence, interleaved.
            for (int piece = 0; piece < 2; piece++) {
                for (int i = 0; i < n; i++) {
                    if (piece == 0) {
                        gs[i] = gpu.openSequence();
                        cs[i] = oracle.openSequence();
                    }
                    int[] p = ref.prompts().get(3).ids();
                    int len = piece == 0 ? 13 + 11 * i : 37 + 3 * i;
                    int[] prompt = Arrays.copyOfRange(p, 0, Math.min(len, p.length));
                    float[][] g = gpu.prefillLogits(gs[i], prompt, true);
                    float[][] w = oracle.prefillLogits(cs[i], prompt, true);
                    for (int row = 0; row < g.length; row++) a.add(g[row], w[row], "prefill seq " + i + " row " + row);
                }
            }
            for (int t = 0; t < 40; t++) {
                int[] tokens = new int[n];
                for (int i = 0; i < n; i++) tokens[i] = (17 * t + 29 * i + 3) % c.vocabSize();
                float[][] g = gpu.decodeLogits(gs, tokens);
                float[][] w = oracle.decodeLogits(cs, tokens);
                for (int i = 0; i < n; i++) a.add(g[i], w[i], "decode step " + t + " seq " + i);
            }
            int scattered = 0;
            for (int i = 0; i < n; i++) {
                int[] blocks = gpu.blockIds(gs[i]);
                assertEquals((gpu.sequenceLength(gs[i]) + blockSize - 1) / blockSize, blocks.length);
                if (!contiguous(blocks)) scattered++;
            }
            assertTrue(scattered > 0, "the fragmented pool should have scattered some sequence's blocks");
            a.check(name + " blocks of " + blockSize + ", 3 interleaved sequences");
        }
    }

    @Test
    void aSequenceSpanningDozensOfSmallBlocksMatchesTheCpuEngineAtEveryPosition() {
        ReferenceData ref = ReferenceData.load("tiny-tied-hd128-g3");
        ModelConfig c = config(ref);
        int blockSize = 3;  // 250 tokens over 84 blocks; 64-key tiles and 64-token splits straddle them
        try (Checkpoint ckpt = Checkpoint.open(ref.dir()); CudaEngine gpu = cuda(c, ckpt, 4, blockSize, 200);
             CpuEngine oracle = cpu(c, ckpt, 1)) {
            fragment(gpu, 4, blockSize, new Random(3));
            int g = gpu.openSequence();
            int w = oracle.openSequence();
            Random r = new Random(5);
            int[] prompt = new int[200];
            for (int i = 0; i < prompt.length; i++) prompt[i] = r.nextInt(c.vocabSize());
            Agreement a = new Agreement();
            float[][] gl = gpu.prefillLogits(g, prompt, true);
            float[][] wl = oracle.prefillLogits(w, prompt, true);
            for (int i = 0; i < gl.length; i++) a.add(gl[i], wl[i], "position " + i);
            for (int t = 0; t < 50; t++) {
                int tok = Sampler.argmax(wl[wl.length - 1]);
                gl = gpu.decodeLogits(new int[] {g}, new int[] {tok});
                wl = oracle.decodeLogits(new int[] {w}, new int[] {tok});
                a.add(gl[0], wl[0], "decode " + t);
            }
            assertEquals(84, gpu.blockIds(g).length);
            a.check("one sequence of 250 tokens in 84 blocks of 3");
        }
    }

    @Test
    void blocksFreedByOneSequenceAndReusedByAnotherLeaveEveryOutputUnchanged() {
        ReferenceData ref = ReferenceData.load("tiny-tied-hd128-g3");
        ModelConfig c = config(ref);
        int blockSize = 8;
        int[] promptA = Arrays.copyOf(ref.prompts().get(2).ids(), 45);
        int[] promptB = Arrays.copyOf(ref.prompts().get(3).ids(), 60);
        int[] promptC = Arrays.copyOf(ref.prompts().get(1).ids(), 23);
        int steps = 30;
        int[] forcedA = new int[steps];
        int[] forcedC = new int[steps];
        for (int t = 0; t < steps; t++) {
            forcedA[t] = (13 * t + 5) % c.vocabSize();
            forcedC[t] = (7 * t + 11) % c.vocabSize();
        }
        try (Checkpoint ckpt = Checkpoint.open(ref.dir()); CudaEngine gpu = cuda(c, ckpt, 4, blockSize, 40);
             CudaEngine alone = cuda(c, ckpt, 4, blockSize, 40)) {
            // Reference: A and C, each alone on an engine of its own, fed the same tokens.
            float[][] wantA = forcedRun(alone, promptA, forcedA);
            float[][] wantC = forcedRun(alone, promptC, forcedC);
            // A runs next to B; B is dropped midway (as a preempted sequence is) and C takes its blocks.
            int a = gpu.openSequence();
            int b = gpu.openSequence();
            float[][] gotA = new float[steps + 1][];
            float[][] gotC = new float[steps + 1][];
            gotA[0] = gpu.prefillLogits(a, promptA, false)[0];
            gpu.prefillLogits(b, promptB, false);
            int c0 = -1;
            int cStep = 0;
            for (int t = 0; t < steps; t++) {
                if (t == 10) {
                    int[] bBlocks = gpu.blockIds(b);
                    gpu.freeSequence(b);
                    c0 = gpu.openSequence();
                    gotC[0] = gpu.prefillLogits(c0, promptC, false)[0];
                    int[] cBlocks = gpu.blockIds(c0);
                    for (int x : cBlocks) {
                        assertTrue(Arrays.stream(bBlocks).anyMatch(y -> y == x), "C should sit in B's freed blocks: C "
                                + Arrays.toString(cBlocks) + ", B " + Arrays.toString(bBlocks));
                    }
                }
                if (t < 10) {
                    float[][] out = gpu.decodeLogits(new int[] {a, b}, new int[] {forcedA[t], (3 * t + 1) % c.vocabSize()});
                    gotA[t + 1] = out[0];
                } else {
                    float[][] out = gpu.decodeLogits(new int[] {a, c0}, new int[] {forcedA[t], forcedC[cStep]});
                    gotA[t + 1] = out[0];
                    gotC[++cStep] = out[1];
                }
            }
            double worst = 0;
            for (int t = 0; t <= steps; t++) worst = Math.max(worst, ReferenceData.relativeL2(gotA[t], wantA[t]));
            for (int t = 0; t <= cStep; t++) worst = Math.max(worst, ReferenceData.relativeL2(gotC[t], wantC[t]));
            System.out.printf("[paged] block reuse: A beside B then C, and C in B's old blocks, vs each alone: worst relL2 %.3e%n",
                    worst);
            // Batch 2 against batch 1 may round differently in the GEMV reductions (then through bf16 KV),
            // ~1e-4; a read or write of the wrong block moves logits by tens of percent.
            assertTrue(worst < 5e-3, "logits moved when B's blocks went to C: worst relL2 " + worst);
        }
    }

    /** Logits after the prompt and after each forced token, for one sequence alone (freed afterwards). */
    static float[][] forcedRun(CudaEngine e, int[] prompt, int[] forced) {
        int s = e.openSequence();
        float[][] out = new float[forced.length + 1][];
        out[0] = e.prefillLogits(s, prompt, false)[0];
        for (int t = 0; t < forced.length; t++) out[t + 1] = e.decodeLogits(new int[] {s}, new int[] {forced[t]})[0];
        e.freeSequence(s);
        return out;
    }

    @ParameterizedTest(name = "blocks of {0}")
    @CsvSource({"8", "5"})
    void yarnPositionsPastTheNativeWindowMatchTheCpuEngine(int blockSize) {
        ReferenceData ref = ReferenceData.load("tiny-yarn-f4");
        ModelConfig c = config(ref);
        assertTrue(c.ropeScaling() != null && c.ropeScaling().isYarn(), "tiny-yarn-f4 should use YaRN");
        int nativeWindow = c.ropeScaling().originalMaxPositionEmbeddings();
        try (Checkpoint ckpt = Checkpoint.open(ref.dir()); CudaEngine gpu = cuda(c, ckpt, 8, blockSize, 60);
             CpuEngine oracle = cpu(c, ckpt, 1)) {
            fragment(gpu, 6, blockSize, new Random(blockSize));
            int g = gpu.openSequence();
            int w = oracle.openSequence();
            int[] prompt = ref.prompts().get(2).ids();  // 96 tokens: three times the native window of 32
            Agreement past = new Agreement();
            float[][] gl = gpu.prefillLogits(g, prompt, true);
            float[][] wl = oracle.prefillLogits(w, prompt, true);
            for (int i = nativeWindow; i < gl.length; i++) past.add(gl[i], wl[i], "position " + i);
            int tok = Sampler.argmax(wl[wl.length - 1]);
            while (gpu.sequenceLength(g) < c.contextLength()) {
                float[] a = gpu.decodeLogits(new int[] {g}, new int[] {tok})[0];
                float[] b = oracle.decodeLogits(new int[] {w}, new int[] {tok})[0];
                past.add(a, b, "decode at " + (gpu.sequenceLength(g) - 1));
                tok = Sampler.argmax(b);
            }
            assertEquals(c.contextLength(), gpu.sequenceLength(g));
            past.check("YaRN x4 positions " + nativeWindow + ".." + (c.contextLength() - 1) + ", blocks of " + blockSize);
        }
    }

    @Test
    void aStepWhoseBlocksAreNotFreeFailsBeforeChangingAnything() {
        ReferenceData ref = ReferenceData.load("tiny-untied-hd64-g2");
        ModelConfig c = config(ref);
        SamplingParams greedy = SamplingParams.greedyDecoding();
        try (Checkpoint ckpt = Checkpoint.open(ref.dir()); CudaEngine gpu = cuda(c, ckpt, 4, 16, 5)) {
            int a = gpu.openSequence();
            int b = gpu.openSequence();
            int ta = gpu.step(List.of(StepRequest.prefill(a, Arrays.copyOf(ref.prompts().get(3).ids(), 48), greedy, 0)))
                    .get(0).token();
            KvBlockUsage before = gpu.kvUsage();
            assertEquals(2, before.freeBlocks());
            // A (48 tokens, 3 full blocks) needs a 4th for its decode, B's 40-token prefill 3 more: 4 > 2 free.
            var e = assertThrows(KvCacheFullException.class, () -> gpu.step(List.of(StepRequest.decode(a, ta, greedy, 0),
                    StepRequest.prefill(b, Arrays.copyOf(ref.prompts().get(2).ids(), 40), greedy, 0))));
            assertTrue(e.getMessage().contains("4 more KV blocks") && e.getMessage().contains("only 2"), e.getMessage());
            assertEquals(48, gpu.sequenceLength(a));
            assertEquals(0, gpu.sequenceLength(b));
            assertEquals(before, gpu.kvUsage());
            // The same decode alone then gives what it would have without the failed attempt.
            int next = gpu.step(List.of(StepRequest.decode(a, ta, greedy, 0))).get(0).token();
            try (CpuEngine oracle = cpu(c, ckpt, 1)) {
                int w = oracle.openSequence();
                oracle.prefillLogits(w, Arrays.copyOf(ref.prompts().get(3).ids(), 48), false);
                float[] l = oracle.decodeLogits(new int[] {w}, new int[] {ta})[0];
                assertTrue(next == Sampler.argmax(l) || CudaEngineReferenceTest.withinNearTie(l, next),
                        "decode after the failed step: " + next + " vs CPU " + Sampler.argmax(l));
            }
            assertEquals(49, gpu.sequenceLength(a));
        }
    }

    @Test
    void aRecomputedSequenceSamplesWhatItsNextDecodeWouldHaveWithPenaltiesAndSeed() {
        ReferenceData ref = ReferenceData.load("tiny-untied-hd64-g2");
        ModelConfig c = config(ref);
        SamplingParams sp = new SamplingParams(0.8, 20, 0.9, 0, 1.2, 0.4, 0.6, 99);
        // 5 + 6 tokens: the recompute prefill stays under the GEMM threshold, so it runs the decode kernels.
        int[] prompt = Arrays.copyOf(ref.prompts().get(1).ids(), 5);
        try (Checkpoint ckpt = Checkpoint.open(ref.dir()); CudaEngine e = cuda(c, ckpt, 2, 4, 16)) {
            int s = e.openSequence();
            int[] generated = new int[6];
            var t = e.step(List.of(StepRequest.prefill(s, prompt, sp, 5))).get(0);
            for (int i = 0; i < generated.length; i++) {
                generated[i] = t.token();
                t = e.step(List.of(StepRequest.decode(s, t.token(), sp, 5))).get(0);
            }
            int[] all = Arrays.copyOf(prompt, prompt.length + generated.length);
            System.arraycopy(generated, 0, all, prompt.length, generated.length);
            e.freeSequence(s);  // preempted: its blocks go back, and the recompute takes them again
            int r = e.openSequence();
            var again = e.step(List.of(StepRequest.recompute(r, all, generated.length, sp, 5))).get(0);
            assertEquals(t.token(), again.token(), "the recompute must sample what the next decode did");
            assertEquals(t.logprob(), again.logprob(), 1e-3);
            assertEquals(prompt.length + generated.length, e.sequenceLength(r));
        }
    }
}

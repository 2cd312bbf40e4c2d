package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import qwenchat.engine.sampling.Sampler;
import qwenchat.engine.ReferenceData;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.KvCacheFullException;
import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.cpu.CpuEngine;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.model.ModelConfigParser;
import qwenchat.weights.Checkpoint;

/**
 * The CUDA engine on the committed tiny checkpoints (untied hd64, tied hd128 group 3, YaRN) against
 * transformers' references and the CPU engine.
 */
@Tag("gpu")
class CudaEngineReferenceTest {

    static ModelConfig config(ReferenceData ref) {
        return ModelConfigParser.parseConfig(ref.dir().resolve("config.json"));
    }

    static CudaEngine engine(ReferenceData ref, Checkpoint ckpt, int seqs, boolean graphs) {
        GpuTestSupport.assumeGpu();
        ModelConfig c = config(ref);
        return CudaEngine.load(c, ckpt, new KvCacheCapacity(seqs, c.contextLength()), LoadProgressListener.NONE,
                new CudaEngine.Options(0, graphs));
    }

    /**
     * A position whose top-2 logits (by the float32 CPU engine, which tracks transformers' float32
     * run to ~1e-6) are closer than this fraction of the logits' RMS is a near-tie: bf16 weights in
     * the KV cache and the bf16 tensor-core operands legitimately decide it either way.
     */
    static final double NEAR_TIE = 0.02;

    static double rms(float[] l) {
        double s = 0;
        for (float v : l) s += (double) v * v;
        return Math.sqrt(s / l.length);
    }

    /** Top-2 ids of l, best first. */
    static int[] top2(float[] l) {
        int a = Sampler.argmax(l);
        int b = a == 0 ? 1 : 0;
        for (int i = 0; i < l.length; i++) if (i != a && l[i] > l[b]) b = i;
        return new int[] {a, b};
    }

    /** Whether picking {@code id} instead of l's argmax is a near-tie decision. */
    static boolean withinNearTie(float[] l, int id) {
        return l[Sampler.argmax(l)] - l[id] < NEAR_TIE * rms(l);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-untied-hd64-g2", "tiny-tied-hd128-g3", "tiny-yarn-f4"})
    void everyPositionsTop1AndLastLogitsMatchTransformers(String name) {
        ReferenceData ref = ReferenceData.load(name);
        ModelConfig c = config(ref);
        try (Checkpoint ckpt = Checkpoint.open(ref.dir()); CudaEngine e = engine(ref, ckpt, 2, true);
             CpuEngine cpu = CpuEngine.load(c, ckpt, new KvCacheCapacity(1, c.contextLength()))) {
            for (ReferenceData.Prompt p : ref.prompts()) {
                int s = e.openSequence();
                float[][] logits = e.prefillLogits(s, p.ids(), true);
                int cs = cpu.openSequence();
                float[][] oracle = cpu.prefillLogits(cs, p.ids(), true);
                cpu.freeSequence(cs);
                assertEquals(p.ids().length, logits.length);
                int agree = 0;
                int ties = 0;
                for (int i = 0; i < logits.length; i++) {
                    int got = Sampler.argmax(logits[i]);
                    if (got == p.argmax()[i]) {
                        agree++;
                    } else {
                        assertTrue(withinNearTie(oracle[i], got), "position " + i + ": argmax " + got + ", transformers "
                                + p.argmax()[i] + ", and the gap is no near-tie");
                        ties++;
                    }
                }
                double rel = ReferenceData.relativeL2(logits[logits.length - 1], p.lastLogits());
                System.out.printf("[tiny] %s prompt %d: top-1 %d/%d (%d near-tie flips), last relL2 %.3e%n", name,
                        p.ids().length, agree, logits.length, ties, rel);
                assertTrue(rel < 2e-2, "last-position relative L2 " + rel);
                e.freeSequence(s);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-untied-hd64-g2", "tiny-tied-hd128-g3", "tiny-yarn-f4"})
    void greedyStepsReproduceTransformersGenerate(String name) {
        ReferenceData ref = ReferenceData.load(name);
        SamplingParams greedy = SamplingParams.greedyDecoding();
        try (Checkpoint ckpt = Checkpoint.open(ref.dir()); CudaEngine e = engine(ref, ckpt, 4, true)) {
            // All prompts run as one continuous batch: prefills first, then batched decode steps.
            int n = ref.prompts().size();
            int[] seq = new int[n];
            List<StepRequest> step = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                seq[i] = e.openSequence();
                step.add(StepRequest.prefill(seq[i], ref.prompts().get(i).ids(), greedy, 5));
            }
            int steps = ref.prompts().get(0).greedy().length;
            int[][] got = new int[n][steps];
            List<SampledToken> out = e.step(step);
            for (int t = 0; t < steps; t++) {
                step.clear();
                for (int i = 0; i < n; i++) {
                    got[i][t] = out.get(i).token();
                    if (t + 1 < steps) step.add(StepRequest.decode(seq[i], got[i][t], greedy, 0));
                }
                if (t + 1 < steps) out = e.step(step);
            }
            ModelConfig c = config(ref);
            try (CpuEngine cpu = CpuEngine.load(c, ckpt, new KvCacheCapacity(1, c.contextLength()))) {
                for (int i = 0; i < n; i++) {
                    int[] want = ref.prompts().get(i).greedy();
                    int same = 0;
                    while (same < steps && got[i][same] == want[same]) same++;
                    String note = "";
                    if (same < 16) {
                        // Teacher-force the reference continuation through the f32 CPU engine to see the
                        // margin at the first difference: only a near-tie may be decided differently.
                        int cs = cpu.openSequence();
                        float[] l = cpu.prefillLogits(cs, ref.prompts().get(i).ids(), false)[0];
                        for (int t = 0; t < same; t++) l = cpu.decodeLogits(new int[] {cs}, new int[] {want[t]})[0];
                        cpu.freeSequence(cs);
                        final int diff = got[i][same];
                        int[] t2 = top2(l);
                        String gap = String.format("CPU engine top-2 %d (%.4f), %d (%.4f), ours %d (%.4f), rms %.4f", t2[0],
                                l[t2[0]], t2[1], l[t2[1]], diff, l[diff], rms(l));
                        assertTrue(withinNearTie(l, diff),
                                "greedy differs at token " + same + " without a near-tie (" + gap + "): got "
                                        + Arrays.toString(got[i]) + " want " + Arrays.toString(want));
                        note = " (then a near-tie at token " + same + ")";
                    }
                    System.out.printf("[tiny] %s prompt %d: greedy matches transformers for %d/%d tokens%s%n", name,
                            ref.prompts().get(i).ids().length, same, steps, note);
                }
            }
        }
    }

    @Test
    void firstStepReportsTransformersTopLogprobs() {
        ReferenceData ref = ReferenceData.load("tiny-untied-hd64-g2");
        try (Checkpoint ckpt = Checkpoint.open(ref.dir()); CudaEngine e = engine(ref, ckpt, 1, true)) {
            ReferenceData.Prompt p = ref.prompts().get(2);
            SampledToken t = e.step(List.of(StepRequest.prefill(e.openSequence(), p.ids(),
                    SamplingParams.greedyDecoding(), 5))).get(0);
            assertEquals(p.greedy()[0], t.token());
            assertEquals(5, t.topIds().length);
            for (int j = 0; j < 5; j++) {
                assertEquals(p.topIds()[j], t.topIds()[j], "top id " + j);
                assertEquals(p.topLogprobs()[j], t.topLogprobs()[j], 0.05, "top logprob " + j);
            }
            assertEquals(t.topLogprobs()[0], t.logprob(), 0f);
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void batchedDecodeMatchesTheCpuEngineWithAndWithoutGraphs(boolean graphs) {
        ReferenceData ref = ReferenceData.load("tiny-tied-hd128-g3");
        ModelConfig c = config(ref);
        try (Checkpoint ckpt = Checkpoint.open(ref.dir()); CudaEngine gpu = engine(ref, ckpt, 3, graphs);
             CpuEngine cpu = CpuEngine.load(c, ckpt, new KvCacheCapacity(3, c.contextLength()))) {
            int[] gs = new int[3];
            int[] cs = new int[3];
            for (int i = 0; i < 3; i++) {
                gs[i] = gpu.openSequence();
                cs[i] = cpu.openSequence();
                int[] prompt = Arrays.copyOf(ref.prompts().get(i).ids(), 5 + 7 * i);
                gpu.prefillLogits(gs[i], prompt, false);
                cpu.prefillLogits(cs[i], prompt, false);
            }
            double worst = 0;
            for (int t = 0; t < 20; t++) {
                int[] tokens = {(7 * t + 3) % c.vocabSize(), (11 * t + 5) % c.vocabSize(), (13 * t + 1) % c.vocabSize()};
                float[][] g = gpu.decodeLogits(gs, tokens);
                float[][] w = cpu.decodeLogits(cs, tokens);
                for (int i = 0; i < 3; i++) {
                    worst = Math.max(worst, ReferenceData.relativeL2(g[i], w[i]));
                    assertEquals(Sampler.argmax(w[i]), Sampler.argmax(g[i]), "argmax step " + t + " seq " + i);
                }
            }
            System.out.printf("[tiny] batched decode vs CPU engine (graphs %s): worst relL2 %.3e%n", graphs, worst);
            assertTrue(worst < 2e-2, "worst relL2 " + worst);
            if (graphs) assertTrue(gpu.capturedGraphs() > 0, "decode steps should replay captured graphs");
        }
    }

    /**
     * Each decode kernel switch alone and all together, against the CPU engine and against the
     * original kernels: prompts of 5, 70 and 190 tokens (one to four attention splits, then more as
     * they grow), decode steps of all three sequences and then of the first alone (the batch-1 GEMV
     * route where the norm is folded).
     */
    @ParameterizedTest(name = "{0} buckets {1} fused {2} folded {3} split {4} streamed norm {5} mma {6} spans {7} split norm {8}")
    @org.junit.jupiter.params.provider.CsvSource({
            "tiny-untied-hd64-g2, true, false, false, false, false, false, false, true",
            "tiny-untied-hd64-g2, false, true, false, false, false, false, false, true",
            "tiny-untied-hd64-g2, false, false, true, false, false, false, false, true",
            "tiny-untied-hd64-g2, true, true, true, false, false, false, false, true",
            "tiny-untied-hd64-g2, true, false, true, true, true, false, false, true",
            "tiny-untied-hd64-g2, false, false, true, false, true, false, false, true",
            "tiny-untied-hd64-g2, true, false, true, true, true, true, false, true",
            "tiny-tied-hd128-g3, true, false, false, false, false, false, false, true",
            "tiny-tied-hd128-g3, false, true, false, false, false, false, false, true",
            "tiny-tied-hd128-g3, false, false, true, false, false, false, false, true",
            "tiny-tied-hd128-g3, true, true, true, false, false, false, false, true",
            "tiny-tied-hd128-g3, true, false, true, true, true, false, false, true",
            "tiny-tied-hd128-g3, false, false, false, false, false, true, false, true",
            "tiny-tied-hd128-g3, true, false, true, true, true, true, false, true",
            "tiny-untied-hd64-g2, true, false, true, true, true, true, true, true",
            "tiny-untied-hd64-g2, true, false, true, true, true, true, true, false",
            "tiny-tied-hd128-g3, true, false, true, true, true, true, true, true",
            "tiny-tied-hd128-g3, true, false, true, true, true, true, true, false",
            "tiny-untied-hd64-g2, true, false, true, true, false, true, true, true",
            "tiny-tied-hd128-g3, true, false, true, true, false, true, true, true"})
    void everyDecodeKernelChoiceMatchesTheCpuEngineAndTheOriginalKernels(String name, boolean buckets, boolean fused,
                                                                         boolean foldedNorm, boolean splitGemv,
                                                                         boolean streamedNorm, boolean mmaAttention,
                                                                         boolean attentionSpans, boolean splitNormGemv) {
        GpuTestSupport.assumeGpu();
        ReferenceData ref = ReferenceData.load(name);
        ModelConfig c = config(ref);
        DecodeKernels choice = new DecodeKernels(buckets, fused, foldedNorm, false, splitGemv, streamedNorm, mmaAttention,
                attentionSpans, splitNormGemv, DecodeKernels.DEPENDENT_LAUNCH_DEFAULT);
        CudaEngine.Options base = new CudaEngine.Options(0, true);
        try (Checkpoint ckpt = Checkpoint.open(ref.dir());
             CudaEngine gpu = CudaEngine.load(c, ckpt, new KvCacheCapacity(3, c.contextLength()), LoadProgressListener.NONE,
                     base.withKernels(choice));
             CudaEngine original = CudaEngine.load(c, ckpt, new KvCacheCapacity(3, c.contextLength()), LoadProgressListener.NONE,
                     base.withKernels(DecodeKernels.original()));
             CpuEngine cpu = CpuEngine.load(c, ckpt, new KvCacheCapacity(3, c.contextLength()))) {
            int[] lengths = {5, 70, 190};
            int[] gs = new int[3];
            int[] os = new int[3];
            int[] cs = new int[3];
            for (int i = 0; i < 3; i++) {
                gs[i] = gpu.openSequence();
                os[i] = original.openSequence();
                cs[i] = cpu.openSequence();
                int[] prompt = new int[lengths[i]];
                for (int j = 0; j < prompt.length; j++) prompt[j] = (17 * j + 5 * i + 3) % c.vocabSize();
                gpu.prefillLogits(gs[i], prompt, false);
                original.prefillLogits(os[i], prompt, false);
                cpu.prefillLogits(cs[i], prompt, false);
            }
            double worstCpu = 0;
            double worstOriginal = 0;
            for (int t = 0; t < 24; t++) {
                int n = t < 12 ? 3 : 1;
                int[] tokens = new int[n];
                for (int i = 0; i < n; i++) tokens[i] = (7 * t + 11 * i + 1) % c.vocabSize();
                float[][] g = gpu.decodeLogits(Arrays.copyOf(gs, n), tokens);
                float[][] o = original.decodeLogits(Arrays.copyOf(os, n), tokens);
                float[][] w = cpu.decodeLogits(Arrays.copyOf(cs, n), tokens);
                for (int i = 0; i < n; i++) {
                    worstCpu = Math.max(worstCpu, ReferenceData.relativeL2(g[i], w[i]));
                    worstOriginal = Math.max(worstOriginal, ReferenceData.relativeL2(g[i], o[i]));
                    assertTrue(Sampler.argmax(g[i]) == Sampler.argmax(w[i]) || withinNearTie(w[i], Sampler.argmax(g[i])),
                            "argmax step " + t + " seq " + i + " is no near-tie of the CPU engine's");
                }
            }
            System.out.printf("[tiny] %s %s: worst relL2 %.3e vs CPU engine, %.3e vs original kernels%n", name, choice, worstCpu,
                    worstOriginal);
            assertTrue(worstCpu < 2e-2, "worst relL2 vs the CPU engine " + worstCpu);
            // The tensor-core attention rounds q and p to bf16 (as prefill flash attention does): a looser bound.
            double bound = mmaAttention ? 1e-2 : 5e-3;
            assertTrue(worstOriginal < bound, "worst relL2 vs the original kernels " + worstOriginal);
        }
    }

    /**
     * skinny: 17-row decode batches and the 20..52-row prefills go through SkinnyGemm (else the
     * prefill GEMM); batch invariance off, so the row count picks the route.
     */
    @ParameterizedTest(name = "skinny={0}")
    @ValueSource(booleans = {true, false})
    void tensorCorePathAgreesWithTheGemvPathForPrefillAndWideDecodeBatches(boolean skinny) {
        ReferenceData ref = ReferenceData.load("tiny-tied-hd128-g3");
        ModelConfig c = config(ref);
        int n = 17;  // above ForwardPass.GEMM_MIN_ROWS: decode batches take the GEMM path too
        try (Checkpoint ckpt = Checkpoint.open(ref.dir());
             CudaEngine fast = CudaEngine.load(c, ckpt, new KvCacheCapacity(n, c.contextLength()), LoadProgressListener.NONE,
                     new CudaEngine.Options(0, true, true, true, skinny, false));
             CudaEngine plain = CudaEngine.load(c, ckpt, new KvCacheCapacity(n, c.contextLength()), LoadProgressListener.NONE,
                     new CudaEngine.Options(0, true, false))) {
            int[] a = new int[n];
            int[] b = new int[n];
            double worst = 0;
            int agree = 0;
            int total = 0;
            for (int i = 0; i < n; i++) {
                a[i] = fast.openSequence();
                b[i] = plain.openSequence();
                int[] prompt = Arrays.copyOf(ref.prompts().get(3).ids(), 20 + 2 * i);  // 20..52 rows: GEMM + flash
                float[][] f = fast.prefillLogits(a[i], prompt, true);
                float[][] g = plain.prefillLogits(b[i], prompt, true);
                for (int r = 0; r < f.length; r++) {
                    worst = Math.max(worst, ReferenceData.relativeL2(f[r], g[r]));
                    if (Sampler.argmax(f[r]) == Sampler.argmax(g[r])) agree++;
                    total++;
                }
            }
            for (int t = 0; t < 6; t++) {
                int[] tokens = new int[n];
                for (int i = 0; i < n; i++) tokens[i] = (31 * t + 7 * i + 1) % c.vocabSize();
                float[][] f = fast.decodeLogits(a, tokens);
                float[][] g = plain.decodeLogits(b, tokens);
                for (int i = 0; i < n; i++) {
                    worst = Math.max(worst, ReferenceData.relativeL2(f[i], g[i]));
                    if (Sampler.argmax(f[i]) == Sampler.argmax(g[i])) agree++;
                    total++;
                }
            }
            System.out.printf("[tiny] tensor-core (skinny %s) vs GEMV path: worst relL2 %.3e, argmax agree %d/%d%n", skinny, worst,
                    agree, total);
            assertTrue(worst < 2e-2, "worst relL2 " + worst);
            assertTrue(agree >= 0.97 * total, "argmax agreement " + agree + "/" + total);
        }
    }

    @Test
    void refusesACacheLargerThanTheDeviceBeforeAllocatingIt() {
        GpuTestSupport.assumeGpu();
        ReferenceData ref = ReferenceData.load("tiny-untied-hd64-g2");
        ModelConfig c = config(ref);
        // 768 bytes of K and V per token x 256 tokens x a million sequences: about 197 GB.
        try (Checkpoint ckpt = Checkpoint.open(ref.dir())) {
            var e = assertThrows(qwenchat.engine.EngineException.class, () -> CudaEngine.load(c, ckpt,
                    new KvCacheCapacity(1_000_000, c.contextLength()), (done, total, name) -> {
                        throw new AssertionError("weights were uploaded before the size check: " + name);
                    }));
            assertTrue(e.getMessage().startsWith("not enough device memory"), e.getMessage());
            assertTrue(e.getMessage().contains("KV cache") && e.getMessage().contains("1000000 sequences"), e.getMessage());
        }
    }

    @Test
    void refusesTokensPastTheSlotAndSlotsPastCapacity() {
        GpuTestSupport.assumeGpu();
        ReferenceData ref = ReferenceData.load("tiny-yarn-f4");
        ModelConfig c = config(ref);
        try (Checkpoint ckpt = Checkpoint.open(ref.dir());
             CudaEngine e = CudaEngine.load(c, ckpt, new KvCacheCapacity(1, 10), LoadProgressListener.NONE)) {
            int s = e.openSequence();
            assertThrows(KvCacheFullException.class, e::openSequence);
            e.prefillLogits(s, new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, false);
            e.decodeLogits(new int[] {s}, new int[] {3});
            assertEquals(10, e.sequenceLength(s));
            assertThrows(KvCacheFullException.class, () -> e.decodeLogits(new int[] {s}, new int[] {3}));
            e.freeSequence(s);
            assertEquals(0, e.openSequenceCount());
            assertEquals(0, e.sequenceLength(e.openSequence()));
        }
    }
}

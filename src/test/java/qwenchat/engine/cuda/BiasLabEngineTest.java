package qwenchat.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import qwenchat.engine.BiasMask;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.LabPass;
import qwenchat.engine.LabProbe;
import qwenchat.engine.ReferenceData;
import qwenchat.engine.StepRequest;
import qwenchat.engine.cpu.CpuEngine;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;

/**
 * The bias lab on the CUDA engine against the CPU oracle: the per-row bias mask honoured by the
 * GEMV QKV epilogue (short prompts, decode) and by qkv_rope_store (GEMM-path prompts), and the
 * probe's logit lens and attention statistics, on tiny checkpoints with non-zero q/k/v biases.
 */
@Tag("gpu")
class BiasLabEngineTest {

    static final SamplingParams GREEDY = SamplingParams.greedyDecoding();

    static int[] prompt(ModelConfig c, int n, long seed) {
        Random r = new Random(seed);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = 1 + r.nextInt(c.vocabSize() - 1);
        return p;
    }

    record Run(SampledToken picked, LabProbe probe) {
    }

    static Run run(InferenceEngine e, int[] prompt, BiasMask mask) {
        List<LabProbe> got = new ArrayList<>();
        int s = e.openSequence();
        try {
            SampledToken t = e.step(List.of(StepRequest.prefill(s, prompt, GREEDY, 5).withLab(new LabPass(mask, got::add))))
                    .getFirst();
            assertThat(got).hasSize(1);
            return new Run(t, got.getFirst());
        } finally {
            e.freeSequence(s);
        }
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        return best;
    }

    static void assertAgree(LabProbe cpu, LabProbe gpu, String what) {
        int layers = cpu.layerLogits().length;
        for (int l = 0; l < layers; l++) {
            double err = ReferenceData.relativeL2(gpu.layerLogits()[l], cpu.layerLogits()[l]);
            System.out.printf("[bias-lab] %s layer %d: lens rel. error %.2e%n", what, l, err);
            assertThat(err).as(what + ": layer " + l + " lens relative error").isLessThan(3e-2);
            int top1 = argmax(gpu.layerLogits()[l]);
            // bf16 keys on the GPU against f32 on the CPU: a flip is allowed only between near-tied ids.
            assertThat(top1 == argmax(cpu.layerLogits()[l]) || CudaEngineReferenceTest.withinNearTie(cpu.layerLogits()[l], top1))
                    .as(what + ": layer " + l + " lens top-1 " + top1 + " is the CPU's or near-tied with it").isTrue();
            for (int h = 0; h < cpu.sinkMass()[l].length; h++) {
                assertThat((double) gpu.sinkMass()[l][h]).as(what + ": sink mass, layer " + l + " head " + h)
                        .isCloseTo(cpu.sinkMass()[l][h], org.assertj.core.data.Offset.offset(1e-2));
                assertThat((double) gpu.attentionEntropy()[l][h]).as(what + ": entropy, layer " + l + " head " + h)
                        .isCloseTo(cpu.attentionEntropy()[l][h], org.assertj.core.data.Offset.offset(3e-2));
            }
        }
    }

    @ParameterizedTest(name = "{0}, {1}-token prompt")
    @CsvSource({"tiny-untied-hd64-g2, 5", "tiny-untied-hd64-g2, 40", "tiny-tied-hd128-g3, 5", "tiny-tied-hd128-g3, 40"})
    void cudaAndCpuAgreeOnAblatedLogitsAndAttentionStatistics(String checkpoint, int length) {
        ReferenceData ref = ReferenceData.load(checkpoint);
        ModelConfig c = CudaEngineReferenceTest.config(ref);
        int layers = c.numHiddenLayers();
        int[] p = prompt(c, length, length);
        try (Checkpoint ckpt = Checkpoint.open(ref.dir());
             CudaEngine gpu = PagedKvEngineTest.cuda(c, ckpt, 2, 16, 16);
             CpuEngine cpu = PagedKvEngineTest.cpu(c, ckpt, 2)) {
            for (BiasMask mask : List.of(BiasMask.none(layers), BiasMask.ablate(layers, 0, layers - 1, BiasMask.K),
                    BiasMask.ablate(layers, 1, layers - 1, BiasMask.Q | BiasMask.V))) {
                Run want = run(cpu, p, mask);
                Run got = run(gpu, p, mask);
                float[] cpuLogits = want.probe().layerLogits()[layers - 1];
                assertThat(got.picked().token() == want.picked().token()
                        || CudaEngineReferenceTest.withinNearTie(cpuLogits, got.picked().token()))
                        .as(mask + ": picked token is the CPU's or near-tied with it").isTrue();
                assertAgree(want.probe(), got.probe(), checkpoint + " " + length + " " + mask);
            }
            Run live = run(gpu, p, BiasMask.none(layers));
            Run ablated = run(gpu, p, BiasMask.ablate(layers, 0, layers - 1, BiasMask.K));
            assertThat(ReferenceData.relativeL2(ablated.probe().layerLogits()[layers - 1],
                    live.probe().layerLogits()[layers - 1])).as("ablating the k biases changes the logits").isGreaterThan(1e-3);
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"tiny-untied-hd64-g2", "tiny-tied-hd128-g3"})
    void aLabPassThatAblatesNothingPicksExactlyWhatAnOrdinaryStepPicks(String checkpoint) {
        ReferenceData ref = ReferenceData.load(checkpoint);
        ModelConfig c = CudaEngineReferenceTest.config(ref);
        for (int length : new int[] {5, 40}) {
            int[] p = prompt(c, length, 7);
            try (Checkpoint ckpt = Checkpoint.open(ref.dir());
                 CudaEngine gpu = PagedKvEngineTest.cuda(c, ckpt, 2, 16, 16)) {
                int a = gpu.openSequence();
                SampledToken plain = gpu.step(List.of(StepRequest.prefill(a, p, GREEDY, 5))).getFirst();
                gpu.freeSequence(a);
                SampledToken lab = run(gpu, p, BiasMask.none(c.numHiddenLayers())).picked();
                assertThat(lab.token()).isEqualTo(plain.token());
                assertThat(lab.topLogprobs()).isEqualTo(plain.topLogprobs());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"tiny-untied-hd64-g2", "tiny-tied-hd128-g3"})
    void anAblatedDecodeRowMatchesTheCpuAndLeavesItsBatchNeighbourAlone(String checkpoint) {
        ReferenceData ref = ReferenceData.load(checkpoint);
        ModelConfig c = CudaEngineReferenceTest.config(ref);
        int layers = c.numHiddenLayers();
        BiasMask allK = BiasMask.ablate(layers, 0, layers - 1, BiasMask.K);
        int[] p = prompt(c, 12, 3);
        try (Checkpoint ckpt = Checkpoint.open(ref.dir());
             CudaEngine gpu = PagedKvEngineTest.cuda(c, ckpt, 3, 16, 16);
             CpuEngine cpu = PagedKvEngineTest.cpu(c, ckpt, 3)) {
            List<SampledToken> g = decodePair(gpu, p, allK);
            List<SampledToken> w = decodePair(cpu, p, allK);
            for (int i = 0; i < 3; i++) {
                if (g.get(i).token() != w.get(i).token()) {
                    // Only a near tie on the CPU may flip under bf16 rounding.
                    assertThat((double) w.get(i).topLogprobs()[0]).as("row " + i + ": token differs without a near tie")
                            .isCloseTo(w.get(i).topLogprobs()[1], org.assertj.core.data.Offset.offset(5e-2));
                    continue;
                }
                for (int j = 0; j < 5; j++) {
                    assertThat((double) g.get(i).topLogprobs()[j]).as("row " + i + " top logprob " + j)
                            .isCloseTo(w.get(i).topLogprobs()[j], org.assertj.core.data.Offset.offset(5e-2));
                }
            }
            for (int j = 0; j < 5; j++) {
                // Up to batch-shape rounding: the masked neighbour's bits must not reach this row.
                assertThat((double) g.get(0).topLogprobs()[j]).as("unmasked row of the mixed batch vs solo decode, " + j)
                        .isCloseTo(g.get(2).topLogprobs()[j], org.assertj.core.data.Offset.offset(1e-3));
            }
        }
    }

    /** Decodes [plain, lab] as one batch after a masked prefill of lab, then plain alone: three results. */
    static List<SampledToken> decodePair(InferenceEngine e, int[] prompt, BiasMask mask) {
        int plain = e.openSequence();
        int lab = e.openSequence();
        int solo = e.openSequence();
        e.step(List.of(StepRequest.prefill(plain, prompt, GREEDY, 0), StepRequest.prefill(solo, prompt, GREEDY, 0),
                StepRequest.prefill(lab, prompt, GREEDY, 0).withLab(new LabPass(mask, null))));
        List<SampledToken> out = new ArrayList<>(e.step(List.of(StepRequest.decode(plain, 5, GREEDY, 5),
                StepRequest.decode(lab, 5, GREEDY, 5).withLab(new LabPass(mask, null)))));
        out.add(e.step(List.of(StepRequest.decode(solo, 5, GREEDY, 5))).getFirst());
        for (int s : new int[] {plain, lab, solo}) e.freeSequence(s);
        return out;
    }
}

package qwenchat.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import qwenchat.engine.BiasMask;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.LabPass;
import qwenchat.engine.LabProbe;
import qwenchat.engine.ReferenceData;
import qwenchat.engine.StepRequest;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.model.ModelConfigParser;
import qwenchat.weights.Checkpoint;

/**
 * The bias lab's engine support on the CPU oracle: a per-request mask that leaves q/k/v biases
 * out without touching the weights, and a probe that measures the prompt's last position. The
 * tiny reference checkpoint has non-zero q/k/v biases.
 */
class BiasLabPassTest {

    static final SamplingParams GREEDY = SamplingParams.greedyDecoding();
    static final KvCacheCapacity CAPACITY = new KvCacheCapacity(4, 128, 16, 32);

    static ModelConfig config;
    static Checkpoint ckpt;

    @BeforeAll
    static void open() {
        ReferenceData ref = ReferenceData.load("tiny-untied-hd64-g2");
        config = ModelConfigParser.parseConfig(ref.dir().resolve("config.json"));
        ckpt = Checkpoint.open(ref.dir());
    }

    @AfterAll
    static void close() {
        ckpt.close();
    }

    static int[] prompt(int n, long seed) {
        Random r = new Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextInt(config.vocabSize());
        return ids;
    }

    /** Prefills {@code prompt} in one step under {@code mask} and returns what the probe measured. */
    static LabProbe probe(CpuEngine e, int[] prompt, BiasMask mask) {
        List<LabProbe> got = new ArrayList<>();
        int s = e.openSequence();
        try {
            e.step(List.of(StepRequest.prefill(s, prompt, GREEDY, 5).withLab(new LabPass(mask, got::add))));
        } finally {
            e.freeSequence(s);
        }
        assertThat(got).hasSize(1);
        return got.getFirst();
    }

    static int layers() {
        return config.numHiddenLayers();
    }

    @Test
    void aLabPassThatAblatesNothingPicksExactlyWhatAnOrdinaryStepPicks() {
        int[] p = prompt(37, 1);
        try (CpuEngine e = CpuEngine.load(config, ckpt, CAPACITY)) {
            int a = e.openSequence();
            int b = e.openSequence();
            SampledToken plain = e.step(List.of(StepRequest.prefill(a, p, GREEDY, 5))).getFirst();
            SampledToken lab = e.step(List.of(StepRequest.prefill(b, p, GREEDY, 5)
                    .withLab(new LabPass(BiasMask.none(layers()), null)))).getFirst();
            assertThat(lab.token()).isEqualTo(plain.token());
            assertThat(lab.logprob()).isEqualTo(plain.logprob());
            assertThat(lab.topIds()).isEqualTo(plain.topIds());
            assertThat(lab.topLogprobs()).isEqualTo(plain.topLogprobs());
        }
    }

    @Test
    void theLastLayersLogitLensIsThePassesOwnLogits() {
        int[] p = prompt(20, 2);
        try (CpuEngine e = CpuEngine.load(config, ckpt, CAPACITY)) {
            float[] logits = e.prefillLogits(e.openSequence(), p, false)[0];
            LabProbe live = probe(e, p, BiasMask.none(layers()));
            assertThat(live.layerLogits()).hasNumberOfRows(layers());
            assertThat(ReferenceData.relativeL2(live.layerLogits()[layers() - 1], logits)).isLessThan(1e-6);
        }
    }

    @Test
    void ablatingTheKBiasesChangesTheLogits() {
        int[] p = prompt(20, 3);
        try (CpuEngine e = CpuEngine.load(config, ckpt, CAPACITY)) {
            LabProbe live = probe(e, p, BiasMask.none(layers()));
            LabProbe ablated = probe(e, p, BiasMask.ablate(layers(), 0, layers() - 1, BiasMask.K));
            int last = layers() - 1;
            assertThat(ReferenceData.relativeL2(ablated.layerLogits()[last], live.layerLogits()[last])).isGreaterThan(1e-3);
            assertThat(ablated.sinkMass()[0]).isNotEqualTo(live.sinkMass()[0]);
        }
    }

    @Test
    void ablatingOneLayerLeavesEveryEarlierLayerExactlyAsItWas() {
        int[] p = prompt(25, 4);
        try (CpuEngine e = CpuEngine.load(config, ckpt, CAPACITY)) {
            LabProbe live = probe(e, p, BiasMask.none(layers()));
            LabProbe ablated = probe(e, p, BiasMask.ablate(layers(), 1, 1, BiasMask.Q | BiasMask.K | BiasMask.V));
            assertThat(ablated.layerLogits()[0]).isEqualTo(live.layerLogits()[0]);
            assertThat(ablated.attentionEntropy()[0]).isEqualTo(live.attentionEntropy()[0]);
            assertThat(ablated.sinkMass()[0]).isEqualTo(live.sinkMass()[0]);
            assertThat(ablated.attentionEntropy()[1]).isNotEqualTo(live.attentionEntropy()[1]);
            assertThat(ReferenceData.relativeL2(ablated.layerLogits()[1], live.layerLogits()[1])).isGreaterThan(1e-4);
        }
    }

    @Test
    void attentionStatisticsAreAProbabilityMassAndAnEntropyWithinTheirBounds() {
        try (CpuEngine e = CpuEngine.load(config, ckpt, CAPACITY)) {
            LabProbe one = probe(e, prompt(1, 5), BiasMask.none(layers()));
            for (int l = 0; l < layers(); l++) {
                for (int h = 0; h < config.numAttentionHeads(); h++) {
                    assertThat(one.sinkMass()[l][h]).as("a lone token attends only to itself").isEqualTo(1f);
                    assertThat(one.attentionEntropy()[l][h]).isEqualTo(0f);
                }
            }
            int n = 30;
            LabProbe many = probe(e, prompt(n, 6), BiasMask.none(layers()));
            for (int l = 0; l < layers(); l++) {
                for (int h = 0; h < config.numAttentionHeads(); h++) {
                    assertThat(many.sinkMass()[l][h]).isBetween(0f, 1f);
                    assertThat((double) many.attentionEntropy()[l][h]).isBetween(0.0, Math.log(n) + 1e-5);
                }
            }
        }
    }

    @Test
    void anAblatedDecodeRowLeavesTheOtherRowsOfItsBatchAlone() {
        int[] p = prompt(12, 7);
        BiasMask allK = BiasMask.ablate(layers(), 0, layers() - 1, BiasMask.K);
        try (CpuEngine e = CpuEngine.load(config, ckpt, CAPACITY)) {
            int solo = e.openSequence();
            int plain = e.openSequence();
            int lab = e.openSequence();
            for (int s : new int[] {solo, plain, lab}) e.step(List.of(StepRequest.prefill(s, p, GREEDY, 0)));
            SampledToken alone = e.step(List.of(StepRequest.decode(solo, 5, GREEDY, 5))).getFirst();
            List<SampledToken> batch = e.step(List.of(StepRequest.decode(plain, 5, GREEDY, 5),
                    StepRequest.decode(lab, 5, GREEDY, 5).withLab(new LabPass(allK, null))));
            assertThat(batch.get(0).topLogprobs()).isEqualTo(alone.topLogprobs());
            assertThat(batch.get(1).topLogprobs()).isNotEqualTo(alone.topLogprobs());
        }
    }

    @Test
    void keysComputedWithoutBiasesNeverReachThePrefixCache() {
        int[] p = prompt(40, 8);
        try (CpuEngine e = CpuEngine.load(config, ckpt, CAPACITY)) {
            probe(e, p, BiasMask.ablate(layers(), 0, layers() - 1, BiasMask.K));
            assertThat(e.cachedPrefixLength(p)).isZero();
            probe(e, p, BiasMask.none(layers()));
            assertThat(e.cachedPrefixLength(p)).isEqualTo(32);
        }
    }

    @Test
    void aMaskForAnotherLayerCountIsRejected() {
        try (CpuEngine e = CpuEngine.load(config, ckpt, CAPACITY)) {
            int s = e.openSequence();
            assertThatThrownBy(() -> e.step(List.of(StepRequest.prefill(s, prompt(3, 9), GREEDY, 0)
                    .withLab(new LabPass(BiasMask.none(layers() + 1), null)))))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("covers " + (layers() + 1) + " layers");
        }
    }
}

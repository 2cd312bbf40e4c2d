package qwenchat.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import qwenchat.engine.sampling.Sampler;
import qwenchat.engine.ReferenceData;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.FieldSource;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.WeightOverrides;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.model.ModelConfigParser;
import qwenchat.weights.Checkpoint;

/** The CPU engine against transformers 5.17 (float32 upcast of the same bf16 weights, eager attention). */
class CpuEngineReferenceParityTest {

    static final List<String> CHECKPOINTS = ReferenceData.NAMES;

    /**
     * KV block sizes the parity runs cover: 3 divides no prompt evenly and splits each into many
     * blocks, 16 is a typical size, 256 puts every sequence in one block (the contiguous layout).
     */
    static final List<Arguments> CHECKPOINTS_AND_BLOCK_SIZES = CHECKPOINTS.stream()
            .flatMap(n -> java.util.stream.Stream.of(3, 16, 256).map(b -> Arguments.of(n, b)))
            .toList();

    private static CpuEngine engine(ReferenceData ref, Checkpoint ckpt, WeightOverrides overrides) {
        return engine(ref, ckpt, overrides, KvCacheCapacity.DEFAULT_BLOCK_SIZE);
    }

    private static CpuEngine engine(ReferenceData ref, Checkpoint ckpt, WeightOverrides overrides, int blockSize) {
        ModelConfig config = ModelConfigParser.parseConfig(ref.dir().resolve("config.json"));
        return CpuEngine.load(config, ckpt, KvCacheCapacity.fullyBacked(2, 256, blockSize),
                CpuEngineOptions.defaults().withOverrides(overrides));
    }

    @ParameterizedTest(name = "{0}, KV blocks of {1}")
    @FieldSource("CHECKPOINTS_AND_BLOCK_SIZES")
    void lastPositionLogitsAndEveryArgmaxMatchTransformersWhateverTheBlockSize(String name, int blockSize) {
        ReferenceData ref = ReferenceData.load(name);
        try (Checkpoint ckpt = Checkpoint.open(ref.dir());
                CpuEngine e = engine(ref, ckpt, WeightOverrides.NONE, blockSize)) {
            double worst = 0;
            for (ReferenceData.Prompt p : ref.prompts()) {
                int seq = e.openSequence();
                float[][] logits = e.prefillLogits(seq, p.ids(), true);
                e.freeSequence(seq);
                float[] last = logits[logits.length - 1];
                double err = ReferenceData.relativeL2(last, p.lastLogits());
                assertTrue(err < 1e-4, name + " prompt of " + p.ids().length + ": relative L2 error " + err);
                worst = Math.max(worst, err);
                int[] argmax = new int[logits.length];
                for (int t = 0; t < logits.length; t++) argmax[t] = qwenchat.engine.sampling.Sampler.argmax(logits[t]);
                assertArrayEquals(p.argmax(), argmax, name + " argmax per position, prompt of " + p.ids().length);
                int[] top = qwenchat.engine.sampling.Sampler.topIds(last, p.topIds().length);
                assertArrayEquals(p.topIds(), top, name + " top-20 ids");
            }
            System.out.printf("%s: worst last-position logits relative L2 error %.3g%n", name, worst);
        }
    }

    @ParameterizedTest(name = "{0}, KV blocks of {1}")
    @FieldSource("CHECKPOINTS_AND_BLOCK_SIZES")
    void greedyContinuationsMatchTransformersGenerateWhateverTheBlockSize(String name, int blockSize) {
        ReferenceData ref = ReferenceData.load(name);
        try (Checkpoint ckpt = Checkpoint.open(ref.dir());
                CpuEngine e = engine(ref, ckpt, WeightOverrides.NONE, blockSize)) {
            for (ReferenceData.Prompt p : ref.prompts()) {
                assertArrayEquals(p.greedy(), greedy(e, p.ids(), p.greedy().length),
                        name + " greedy continuation of a " + p.ids().length + "-token prompt");
            }
        }
    }

    @ParameterizedTest
    @FieldSource("CHECKPOINTS")
    void zeroedQkvBiasesMatchTransformersAblationAndChangeTheOutput(String name) {
        ReferenceData ref = ReferenceData.load(name);
        try (Checkpoint ckpt = Checkpoint.open(ref.dir());
                CpuEngine e = engine(ref, ckpt, new WeightOverrides(true))) {
            for (ReferenceData.Prompt p : ref.prompts()) {
                int[] got = greedy(e, p.ids(), p.greedyNoBias().length);
                assertArrayEquals(p.greedyNoBias(), got, name + " bias-free continuation, prompt of " + p.ids().length);
                assertFalse(java.util.Arrays.equals(p.greedy(), got), name + ": zeroing the biases changed nothing");
            }
        }
    }

    @ParameterizedTest
    @FieldSource("CHECKPOINTS")
    void rotaryFrequenciesAndAttentionScalingMatchTransformers(String name) {
        ReferenceData ref = ReferenceData.load(name);
        Rope rope = Rope.of(ModelConfigParser.parseConfig(ref.dir().resolve("config.json")));
        float[] inv = rope.invFreq();
        assertEquals(ref.invFreq().length, inv.length);
        for (int i = 0; i < inv.length; i++) {
            assertEquals(ref.invFreq()[i], inv[i], Math.abs(ref.invFreq()[i]) * 1e-6, name + " inv_freq[" + i + "]");
        }
        assertEquals(ref.attentionScaling(), rope.attentionScaling(), 1e-6, name + " attention scaling");
    }

    /** Greedy decoding through {@code step}, the path the scheduler uses. */
    static int[] greedy(CpuEngine e, int[] prompt, int n) {
        int seq = e.openSequence();
        try {
            List<Integer> out = new ArrayList<>();
            SampledToken t = e.step(List.of(StepRequest.prefill(seq, prompt, SamplingParams.greedyDecoding(), 0))).get(0);
            out.add(t.token());
            while (out.size() < n) {
                t = e.step(List.of(StepRequest.decode(seq, t.token(), SamplingParams.greedyDecoding(), 0))).get(0);
                out.add(t.token());
            }
            return out.stream().mapToInt(Integer::intValue).toArray();
        } finally {
            e.freeSequence(seq);
        }
    }
}

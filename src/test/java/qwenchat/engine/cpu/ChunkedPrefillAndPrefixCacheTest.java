package qwenchat.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.ReferenceData;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.model.ModelConfigParser;
import qwenchat.weights.Checkpoint;

/**
 * A prompt prefilled in chunks over several steps, or started on cached blocks, gives exactly what
 * one whole prefill gives: the same logits, the same picked tokens, the same penalties.
 */
class ChunkedPrefillAndPrefixCacheTest {

    static ModelConfig config;
    static Checkpoint ckpt;
    static final KvCacheCapacity CAPACITY = new KvCacheCapacity(4, 512, 16, 64);
    static final SamplingParams PENALISED = new SamplingParams(0.9, 40, 0.95, 0, 1.1, 0.3, 0.5, 77);

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

    static int[] randomIds(int n, long seed) {
        Random r = new Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextInt(config.vocabSize());
        return ids;
    }

    /** The first token and then {@code decodes} more, each from the one before. */
    private static List<SampledToken> continueFrom(CpuEngine e, int s, SampledToken first, SamplingParams p, int decodes) {
        List<SampledToken> out = new ArrayList<>(List.of(first));
        for (int i = 0; i < decodes; i++) {
            out.add(e.step(List.of(StepRequest.decode(s, out.getLast().token(), p, 5))).getFirst());
        }
        return out;
    }

    private static List<SampledToken> whole(int[] prompt, SamplingParams p) {
        try (CpuEngine e = CpuEngine.load(config, ckpt, CAPACITY)) {
            int s = e.openSequence();
            return continueFrom(e, s, e.step(List.of(StepRequest.prefill(s, prompt, p, 5))).getFirst(), p, 6);
        }
    }

    private static void assertSame(List<SampledToken> actual, List<SampledToken> expected) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < expected.size(); i++) {
            assertThat(actual.get(i).token()).as("token %d", i).isEqualTo(expected.get(i).token());
            assertThat(actual.get(i).logprob()).as("logprob %d", i).isEqualTo(expected.get(i).logprob());
            assertThat(actual.get(i).topIds()).isEqualTo(expected.get(i).topIds());
            assertThat(actual.get(i).topLogprobs()).isEqualTo(expected.get(i).topLogprobs());
        }
    }

    @Test
    void aPromptPrefilledInChunksOverSeveralStepsGivesTheLogitsOfOneWholePrefill() {
        int[] prompt = randomIds(70, 1);
        float[] wholeLogits;
        try (CpuEngine e = CpuEngine.load(config, ckpt, CAPACITY)) {
            wholeLogits = e.prefillLogits(e.openSequence(), prompt, false)[0];
        }
        try (CpuEngine e = CpuEngine.load(config, ckpt, CAPACITY)) {
            int s = e.openSequence();
            e.prefillLogits(s, Arrays.copyOfRange(prompt, 0, 23), false);
            e.prefillLogits(s, Arrays.copyOfRange(prompt, 23, 50), false);
            assertThat(e.prefillLogits(s, Arrays.copyOfRange(prompt, 50, 70), false)[0]).isEqualTo(wholeLogits);
        }
    }

    @Test
    void chunkedStepsPickNothingUntilTheLastChunkThenWhatAWholePrefillPicks() {
        int[] prompt = randomIds(70, 2);
        for (SamplingParams p : List.of(SamplingParams.greedyDecoding(), PENALISED)) {
            List<SampledToken> expected = whole(prompt, p);
            try (CpuEngine e = CpuEngine.load(config, ckpt, CAPACITY)) {
                int s = e.openSequence();
                SampledToken first = null;
                for (int from = 0; from < prompt.length; from += 30) {
                    int to = Math.min(prompt.length, from + 30);
                    boolean last = to == prompt.length;
                    SampledToken t = e.step(List.of(StepRequest.chunk(s, Arrays.copyOfRange(prompt, from, to), 0, last,
                            p, 5))).getFirst();
                    assertThat(t.picked()).isEqualTo(last);
                    first = t;
                }
                assertSame(continueFrom(e, s, first, p, 6), expected);
            }
        }
    }

    @Test
    void aRecomputeInChunksCountsTheSampledTailAsGenerated() {
        int[] prompt = randomIds(30, 3);
        List<SampledToken> expected = whole(prompt, PENALISED);
        int[] feed = Arrays.copyOf(prompt, 33);
        for (int i = 0; i < 3; i++) feed[30 + i] = expected.get(i).token();
        try (CpuEngine e = CpuEngine.load(config, ckpt, CAPACITY)) {
            int s = e.openSequence();
            e.step(List.of(StepRequest.chunk(s, Arrays.copyOfRange(feed, 0, 31), 1, false, PENALISED, 5)));
            SampledToken next = e.step(List.of(StepRequest.chunk(s, Arrays.copyOfRange(feed, 31, 33), 2, true,
                    PENALISED, 5))).getFirst();
            assertSame(continueFrom(e, s, next, PENALISED, 3), expected.subList(3, 7));
        }
    }

    @Test
    void aSequenceStartedOnCachedBlocksContinuesExactlyAsAnUncachedOne() {
        int[] system = randomIds(40, 4);
        int[] question = randomIds(9, 5);
        int[] prompt = Arrays.copyOf(system, 49);
        System.arraycopy(question, 0, prompt, 40, 9);
        for (SamplingParams p : List.of(SamplingParams.greedyDecoding(), PENALISED)) {
            List<SampledToken> expected = whole(prompt, p);
            try (CpuEngine e = CpuEngine.load(config, ckpt, CAPACITY)) {
                int warm = e.openSequence();
                e.step(List.of(StepRequest.prefill(warm, system, p, 0)));
                e.freeSequence(warm);
                assertThat(e.cachedPrefixLength(prompt)).isEqualTo(32);
                int s = e.openSequence();
                assertThat(e.reuseCachedPrefix(s, prompt, prompt.length)).isEqualTo(32);
                assertThat(e.sequenceLength(s)).isEqualTo(32);
                SampledToken first = e.step(List.of(StepRequest.chunk(s, Arrays.copyOfRange(prompt, 32, 49), 0, true,
                        p, 5))).getFirst();
                assertSame(continueFrom(e, s, first, p, 6), expected);
            }
        }
    }

    @Test
    void aReusedPrefixThatCoversSampledTokensFeedsThemToThePenaltiesAsGenerated() {
        int[] prompt = randomIds(20, 6);
        List<SampledToken> expected = whole(prompt, PENALISED);
        int[] feed = Arrays.copyOf(prompt, 34);
        for (int i = 0; i < 14; i++) feed[20 + i] = expected.get(i % 7).token();
        try (CpuEngine reference = CpuEngine.load(config, ckpt, CAPACITY);
                CpuEngine cached = CpuEngine.load(config, ckpt, CAPACITY)) {
            int r = reference.openSequence();
            SampledToken want = reference.step(List.of(StepRequest.recompute(r, feed, 14, PENALISED, 5))).getFirst();
            int warm = cached.openSequence();
            cached.step(List.of(StepRequest.recompute(warm, feed, 14, PENALISED, 0)));
            cached.freeSequence(warm);
            int s = cached.openSequence();
            assertThat(cached.reuseCachedPrefix(s, feed, 20)).isEqualTo(32);
            SampledToken got = cached.step(List.of(StepRequest.chunk(s, Arrays.copyOfRange(feed, 32, 34), 2, true,
                    PENALISED, 5))).getFirst();
            assertSame(continueFrom(cached, s, got, PENALISED, 3),
                    continueFrom(reference, r, want, PENALISED, 3));
        }
    }
}

package qwenchat.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import qwenchat.engine.ReferenceData;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.KvCacheFullException;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.model.ModelConfigParser;
import qwenchat.weights.Checkpoint;

/** Engine behaviour that transformers does not cover: kernels, batching, chunking, slots. */
class CpuEngineTest {

    static ReferenceData ref;
    static ModelConfig config;
    static Checkpoint ckpt;

    @BeforeAll
    static void open() {
        ref = ReferenceData.load("tiny-untied-hd64-g2");
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

    @Test
    void parallelKernelsAgreeWithScalarOracle() {
        int[] ids = randomIds(40, 1);
        float[][] fast;
        float[][] slow;
        try (CpuEngine e = CpuEngine.load(config, ckpt, new KvCacheCapacity(1, 64),
                CpuEngineOptions.defaults().withThreads(3))) {
            fast = e.prefillLogits(e.openSequence(), ids, true);
        }
        try (CpuEngine e = CpuEngine.load(config, ckpt, new KvCacheCapacity(1, 64),
                CpuEngineOptions.defaults().withScalarOracle(true))) {
            slow = e.prefillLogits(e.openSequence(), ids, true);
        }
        for (int t = 0; t < ids.length; t++) {
            double err = ReferenceData.relativeL2(fast[t], slow[t]);
            assertTrue(err < 1e-5, "position " + t + ": parallel vs scalar relative error " + err);
        }
    }

    @Test
    void parallelKernelsAgreeWithScalarOracleOnRaggedShapes(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) {
        // rows not a multiple of the 4-row block or the thread split, and an odd token count
        var shape = new qwenchat.demo.SyntheticCheckpoint.Shape("ragged", 66, 97, 2, 3, 1, 301, false);
        var m = qwenchat.demo.SyntheticCheckpoint.ensure(shape, tmp.resolve("ragged"), 9);
        int[] ids = {5, 300, 17, 0, 123};
        try (Checkpoint c = m.openCheckpoint();
                CpuEngine fast = CpuEngine.load(m.config(), c, new KvCacheCapacity(1, 8),
                        CpuEngineOptions.defaults().withThreads(3));
                CpuEngine slow = CpuEngine.load(m.config(), c, new KvCacheCapacity(1, 8),
                        CpuEngineOptions.defaults().withScalarOracle(true))) {
            float[][] a = fast.prefillLogits(fast.openSequence(), ids, true);
            float[][] b = slow.prefillLogits(slow.openSequence(), ids, true);
            for (int t = 0; t < ids.length; t++) {
                double err = ReferenceData.relativeL2(a[t], b[t]);
                assertTrue(err < 1e-5, "position " + t + ": parallel vs scalar relative error " + err);
            }
        }
    }

    @Test
    void batchedDecodeMatchesDecodingEachSequenceAlone() {
        int[][] prompts = {randomIds(7, 2), randomIds(19, 3), randomIds(3, 4)};
        int[] next = {5, 77, 901};
        float[][] alone = new float[3][];
        try (CpuEngine e = CpuEngine.load(config, ckpt, new KvCacheCapacity(3, 64))) {
            for (int i = 0; i < 3; i++) {
                int s = e.openSequence();
                e.prefillLogits(s, prompts[i], false);
                alone[i] = e.decodeLogits(new int[] {s}, new int[] {next[i]})[0];
                e.freeSequence(s);
            }
            int[] seqs = new int[3];
            for (int i = 0; i < 3; i++) {
                seqs[i] = e.openSequence();
                e.prefillLogits(seqs[i], prompts[i], false);
            }
            float[][] batched = e.decodeLogits(seqs, next);
            for (int i = 0; i < 3; i++) {
                assertTrue(ReferenceData.relativeL2(batched[i], alone[i]) < 1e-5, "sequence " + i);
                assertEquals(prompts[i].length + 1, e.sequenceLength(seqs[i]));
            }
        }
    }

    @Test
    void longPrefillInChunksMatchesTokenByTokenDecoding() {
        int[] ids = randomIds(CpuEngine.PREFILL_CHUNK + 45, 5);
        try (CpuEngine e = CpuEngine.load(config, ckpt, new KvCacheCapacity(2, 400))) {
            float[][] chunked = e.prefillLogits(e.openSequence(), ids, true);
            int s = e.openSequence();
            e.prefillLogits(s, new int[] {ids[0]}, false);
            for (int t = 1; t < ids.length; t++) {
                float[] one = e.decodeLogits(new int[] {s}, new int[] {ids[t]})[0];
                if (t % 37 == 0 || t == ids.length - 1) {
                    double err = ReferenceData.relativeL2(chunked[t], one);
                    assertTrue(err < 1e-5, "position " + t + " relative error " + err);
                }
            }
        }
    }

    /**
     * A prefill that wants only its last position's logits runs the last layer past the keys and
     * values for that row alone: its logits and the decode steps after it (which read the last layer's
     * keys and values of every prompt position) agree with a prefill that runs every row to the end.
     * The one-row products take the single-token dot path, so they agree to float rounding.
     */
    @Test
    void theLastLayerForTheLastPositionAloneGivesWhatEveryRowGives() {
        int[] ids = randomIds(CpuEngine.PREFILL_CHUNK + 45, 11);
        int[] feed = randomIds(4, 12);
        try (CpuEngine e = CpuEngine.load(config, ckpt, new KvCacheCapacity(2, 400))) {
            int every = e.openSequence();
            int lastOnly = e.openSequence();
            float[][] all = e.prefillLogits(every, ids, true);
            float[][] last = e.prefillLogits(lastOnly, ids, false);
            assertEquals(1, last.length);
            assertTrue(ReferenceData.relativeL2(last[0], all[ids.length - 1]) < 1e-5, "last prompt position");
            for (int t = 0; t < feed.length; t++) {
                float[][] both = e.decodeLogits(new int[] {every, lastOnly}, new int[] {feed[t], feed[t]});
                assertTrue(ReferenceData.relativeL2(both[1], both[0]) < 1e-6, "decode step " + t);
            }
        }
    }

    @Test
    void stepReturnsResultsInRequestOrderWithTopLogprobs() {
        try (CpuEngine e = CpuEngine.load(config, ckpt, new KvCacheCapacity(2, 64))) {
            int a = e.openSequence();
            int b = e.openSequence();
            int[] pa = randomIds(9, 6);
            List<SampledToken> first = e.step(List.of(
                    StepRequest.prefill(b, randomIds(4, 7), SamplingParams.greedyDecoding(), 0),
                    StepRequest.prefill(a, pa, SamplingParams.greedyDecoding(), 5)));
            assertEquals(b, first.get(0).sequence());
            assertEquals(a, first.get(1).sequence());
            SampledToken ta = first.get(1);
            assertEquals(5, ta.topIds().length);
            assertEquals(ta.token(), ta.topIds()[0]);
            assertEquals(ta.logprob(), ta.topLogprobs()[0], 0f);
            for (int i = 1; i < 5; i++) assertTrue(ta.topLogprobs()[i] <= ta.topLogprobs()[i - 1]);
            try (CpuEngine alone = CpuEngine.load(config, ckpt, new KvCacheCapacity(1, 64))) {
                float[] logits = alone.prefillLogits(alone.openSequence(), pa, false)[0];
                double lse = 0;
                float max = Float.NEGATIVE_INFINITY;
                for (float f : logits) max = Math.max(max, f);
                for (float f : logits) lse += Math.exp(f - max);
                lse = max + Math.log(lse);
                assertEquals(logits[ta.token()] - lse, ta.logprob(), 1e-4);
            }
        }
    }

    @Test
    void slotsAreLimitedAndReusedAfterFree() {
        try (CpuEngine e = CpuEngine.load(config, ckpt, new KvCacheCapacity(2, 16))) {
            int a = e.openSequence();
            int b = e.openSequence();
            assertThrows(KvCacheFullException.class, e::openSequence);
            e.freeSequence(a);
            assertEquals(1, e.openSequenceCount());
            assertEquals(a, e.openSequence());
            assertEquals(0, e.sequenceLength(a));
            e.prefillLogits(b, randomIds(16, 8), false);
            KvCacheFullException full = assertThrows(KvCacheFullException.class,
                    () -> e.decodeLogits(new int[] {b}, new int[] {1}));
            assertTrue(full.getMessage().contains("16"), full.getMessage());
            assertThrows(IllegalArgumentException.class, () -> e.sequenceLength(7));
        }
    }

    @Test
    void aStepThatDoesNotFitChangesNoSequence() {
        try (CpuEngine e = CpuEngine.load(config, ckpt, new KvCacheCapacity(2, 16))) {
            int a = e.openSequence();
            int b = e.openSequence();
            e.prefillLogits(b, randomIds(16, 10), false);
            assertThrows(KvCacheFullException.class, () -> e.step(List.of(
                    StepRequest.prefill(a, randomIds(5, 11), SamplingParams.greedyDecoding(), 0),
                    StepRequest.decode(b, 3, SamplingParams.greedyDecoding(), 0))));
            assertEquals(0, e.sequenceLength(a));
            assertEquals(16, e.sequenceLength(b));
        }
    }

    @Test
    void kvMemoryGrowsBlockByBlockAndFreedBlocksAreReusedOnceNoFreshOneIsLeft() {
        try (CpuEngine e = CpuEngine.load(config, ckpt, new KvCacheCapacity(2, 1000, 16, 25))) {
            long perBlock = 16L * 2 * config.numHiddenLayers() * config.kvDim() * Float.BYTES;
            int s = e.openSequence();
            e.prefillLogits(s, randomIds(300, 12), false);
            assertEquals(19 * perBlock, e.info().kvCacheBytes()); // 300 tokens fill 19 blocks of 16
            assertEquals(6, e.kvUsage().freeBlocks());
            e.prefillLogits(s, randomIds(20, 13), false);
            assertEquals(20 * perBlock, e.info().kvCacheBytes());
            e.freeSequence(s);
            assertEquals(25, e.kvUsage().freeBlocks()); // its full blocks stay cached, but count as free
            int t = e.openSequence();
            e.prefillLogits(t, randomIds(100, 14), false);
            // Five never-used blocks first (the cached ones may still be hit), then two reclaimed.
            assertEquals(25 * perBlock, e.info().kvCacheBytes());
            assertEquals(18, e.kvUsage().freeBlocks());
        }
    }

    @Test
    void aStepNeedingMoreBlocksThanAreFreeThrowsAndChangesNothing() {
        try (CpuEngine e = CpuEngine.load(config, ckpt, new KvCacheCapacity(2, 64, 4, 5))) {
            int a = e.openSequence();
            int b = e.openSequence();
            e.prefillLogits(b, randomIds(12, 10), false); // 3 of 5 blocks
            KvCacheFullException full = assertThrows(KvCacheFullException.class, () -> e.step(List.of(
                    StepRequest.prefill(a, randomIds(8, 11), SamplingParams.greedyDecoding(), 0),
                    StepRequest.decode(b, 3, SamplingParams.greedyDecoding(), 0))));
            assertTrue(full.getMessage().contains("3 more KV blocks") && full.getMessage().contains("2 of 5"),
                    full.getMessage());
            assertEquals(0, e.sequenceLength(a));
            assertEquals(12, e.sequenceLength(b));
            assertEquals(2, e.kvUsage().freeBlocks());
            assertEquals(2, e.step(List.of(
                    StepRequest.prefill(a, randomIds(4, 11), SamplingParams.greedyDecoding(), 0),
                    StepRequest.decode(b, 3, SamplingParams.greedyDecoding(), 0))).size());
            assertEquals(0, e.kvUsage().freeBlocks());
        }
    }

    @Test
    void aRecomputedSequenceSamplesWhatItsNextDecodeWouldHaveWithPenaltiesAndSeed() {
        SamplingParams sp = new SamplingParams(0.8, 20, 0.9, 0, 1.2, 0.4, 0.6, 99);
        int[] prompt = randomIds(13, 21);
        try (CpuEngine e = CpuEngine.load(config, ckpt, KvCacheCapacity.fullyBacked(2, 64, 4))) {
            int s = e.openSequence();
            int[] generated = new int[6];
            SampledToken t = e.step(List.of(StepRequest.prefill(s, prompt, sp, 5))).get(0);
            for (int i = 0; i < generated.length; i++) {
                generated[i] = t.token();
                t = e.step(List.of(StepRequest.decode(s, t.token(), sp, 5))).get(0);
            }
            int[] all = java.util.Arrays.copyOf(prompt, prompt.length + generated.length);
            System.arraycopy(generated, 0, all, prompt.length, generated.length);
            int r = e.openSequence();
            SampledToken again = e.step(List.of(StepRequest.recompute(r, all, generated.length, sp, 5))).get(0);
            assertEquals(t.token(), again.token());
            assertEquals(t.logprob(), again.logprob(), 1e-5);
            assertEquals(e.sequenceLength(s), e.sequenceLength(r));
        }
    }

    @Test
    void reportsLoadProgressUpToEveryCheckpointByte() {
        java.util.List<Long> done = new java.util.ArrayList<>();
        java.util.Set<String> tensors = new java.util.HashSet<>();
        try (CpuEngine e = CpuEngine.load(config, ckpt, new KvCacheCapacity(1, 8),
                CpuEngineOptions.defaults().withProgress((d, total, name) -> {
                    assertEquals(ckpt.totalBytes(), total);
                    done.add(d);
                    tensors.add(name);
                }))) {
            assertEquals(ckpt.totalBytes(), done.get(done.size() - 1));
            assertEquals(ckpt.tensorNames(), tensors);
            assertEquals(ckpt.totalBytes(), e.info().weightBytes());
            assertEquals("cpu", e.info().kind());
        }
    }

    @Test
    void rejectsTokenOutsideVocabulary() {
        try (CpuEngine e = CpuEngine.load(config, ckpt, new KvCacheCapacity(1, 16))) {
            int s = e.openSequence();
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                    () -> e.prefillLogits(s, new int[] {1, config.vocabSize()}, false));
            assertTrue(ex.getMessage().contains(String.valueOf(config.vocabSize())), ex.getMessage());
        }
    }

    @Test
    void kvCacheGrowsWithTheSequenceNotTheCapacity() {
        try (CpuEngine e = CpuEngine.load(config, ckpt, new KvCacheCapacity(1, 32768))) {
            int s = e.openSequence();
            e.prefillLogits(s, randomIds(10, 9), false);
            long perToken = 2L * config.numHiddenLayers() * config.kvDim() * Float.BYTES;
            assertEquals(KvCacheCapacity.DEFAULT_BLOCK_SIZE * perToken, e.info().kvCacheBytes()); // one block
        }
    }
}

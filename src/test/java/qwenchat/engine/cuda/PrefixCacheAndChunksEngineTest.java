package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import qwenchat.engine.ReferenceData;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;

/**
 * The scheduler's two ways of not prefilling a prompt in one piece, on the CUDA engine: a prompt
 * prefilled in chunks over several steps (only the last chunk picks a token), and a prompt whose
 * leading full blocks are reused from the prefix cache (only the rest is computed). Both must pick
 * what one whole prefill picks, with the same top log-probabilities up to bf16 rounding.
 */
@Tag("gpu")
class PrefixCacheAndChunksEngineTest {

    static final int BLOCK = 16;
    static final SamplingParams GREEDY = SamplingParams.greedyDecoding();

    static int[] prompt(ModelConfig c, int n, long seed) {
        Random r = new Random(seed);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = 1 + r.nextInt(c.vocabSize() - 1);
        return p;
    }

    static SampledToken whole(CudaEngine e, int[] prompt) {
        int s = e.openSequence();
        try {
            return e.step(List.of(StepRequest.prefill(s, prompt, GREEDY, 5))).get(0);
        } finally {
            e.freeSequence(s);
        }
    }

    static void assertSamePick(SampledToken expected, SampledToken got, String what) {
        assertEquals(expected.token(), got.token(), what + ": token");
        assertEquals(expected.topIds().length, got.topIds().length, what + ": top-k count");
        double worst = 0;
        for (int i = 0; i < expected.topLogprobs().length; i++) {
            worst = Math.max(worst, Math.abs(expected.topLogprobs()[i] - got.topLogprobs()[i]));
        }
        System.out.printf("[prefix] %-44s token %d, worst top-5 logprob gap %.2e%n", what, got.token(), worst);
        assertTrue(worst < 5e-2, what + ": top log-probabilities differ by " + worst);
    }

    @Test
    void aPromptPrefilledInChunksPicksWhatOneWholePrefillPicks() {
        ReferenceData ref = ReferenceData.load("tiny-tied-hd128-g3");
        ModelConfig c = CudaEngineReferenceTest.config(ref);
        try (Checkpoint ckpt = Checkpoint.open(ref.dir());
             CudaEngine gpu = PagedKvEngineTest.cuda(c, ckpt, 4, BLOCK, 64)) {
            int[] p = prompt(c, 150, 1);
            SampledToken expected = whole(gpu, p);
            int s = gpu.openSequence();
            int[] cuts = {0, 37, 80, 150};
            SampledToken last = null;
            for (int k = 0; k + 1 < cuts.length; k++) {
                boolean final_ = k + 2 == cuts.length;
                SampledToken t = gpu.step(List.of(StepRequest.chunk(s, Arrays.copyOfRange(p, cuts[k], cuts[k + 1]), 0,
                        final_, GREEDY, 5))).get(0);
                if (!final_) assertEquals(-1, t.token(), "a chunk that is not the prompt's last picks nothing");
                last = t;
            }
            assertEquals(150, gpu.sequenceLength(s));
            assertSamePick(expected, last, "150 tokens in chunks of 37, 43, 70");
        }
    }

    @Test
    void aPromptWhoseLeadingBlocksComeFromThePrefixCachePicksWhatOneWholePrefillPicks() {
        ReferenceData ref = ReferenceData.load("tiny-tied-hd128-g3");
        ModelConfig c = CudaEngineReferenceTest.config(ref);
        try (Checkpoint ckpt = Checkpoint.open(ref.dir());
             CudaEngine gpu = PagedKvEngineTest.cuda(c, ckpt, 4, BLOCK, 64)) {
            int[] system = prompt(c, 100, 2);
            int[] turn = prompt(c, 30, 3);
            int[] full = new int[system.length + turn.length];
            System.arraycopy(system, 0, full, 0, system.length);
            System.arraycopy(turn, 0, full, system.length, turn.length);
            // The uncached answer first, on a fresh engine's pool: then nothing of `full` is cached.
            assertEquals(0, gpu.cachedPrefixLength(full));
            SampledToken expected = whole(gpu, full);
            // `whole` freed its sequence: its full blocks (128 of 130 tokens) stay cached.
            int cached = gpu.cachedPrefixLength(full);
            assertEquals(128, cached, "the freed sequence's full blocks are found again");
            int s = gpu.openSequence();
            int reused = gpu.reuseCachedPrefix(s, full, full.length);
            assertEquals(cached, reused);
            assertEquals(reused, gpu.sequenceLength(s));
            SampledToken got = gpu.step(List.of(StepRequest.prefill(s, Arrays.copyOfRange(full, reused, full.length),
                    GREEDY, 5))).get(0);
            assertSamePick(expected, got, "128 cached tokens + 2 computed");
            gpu.freeSequence(s);
            // A request sharing only the 100-token "system prompt" reuses its 6 full blocks.
            int[] other = Arrays.copyOf(system, 120);
            System.arraycopy(prompt(c, 20, 4), 0, other, 100, 20);
            SampledToken fresh;
            int t = gpu.openSequence();
            int shared = gpu.reuseCachedPrefix(t, other, other.length);
            assertEquals(96, shared);
            SampledToken viaCache = gpu.step(List.of(StepRequest.prefill(t, Arrays.copyOfRange(other, shared, other.length),
                    GREEDY, 5))).get(0);
            gpu.freeSequence(t);
            try (CudaEngine cold = PagedKvEngineTest.cuda(c, ckpt, 2, BLOCK, 16)) {
                fresh = whole(cold, other);
            }
            assertSamePick(fresh, viaCache, "96 cached system-prompt tokens + 24 computed");
        }
    }
}

package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;
import qwenchat.demo.SyntheticCheckpoint;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.StepRequest;
import qwenchat.engine.cpu.CpuEngine;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;

/**
 * A step that carries a prefill chunk and decodes runs them as one forward pass
 * ({@link DecodeKernels#mixedSteps}): the decode rows share the chunk's projections and attend
 * through split attention while the chunk's rows use flash attention. The picks and log-probabilities
 * must be those of separate passes and of the CPU engine. A random checkpoint the tensor-core path
 * takes (head_dim 128, non-zero biases) on a pool of 16-token blocks.
 */
@Tag("gpu")
class MixedStepEngineTest {
    static final SyntheticCheckpoint.Shape SHAPE = new SyntheticCheckpoint.Shape("mixed", 512, 1024, 2, 4, 2, 2048, false);
    static final SamplingParams GREEDY = SamplingParams.greedyDecoding();
    static final int AFTER = 3;

    @TempDir
    static Path tmp;
    static Path dir;
    static ModelConfig config;

    @BeforeAll
    static void checkpoint() {
        GpuTestSupport.assumeGpu();
        dir = tmp.resolve("ckpt");
        config = GpuTestSupport.tensorCoreCheckpoint(SHAPE, dir, 21);
    }

    static KvCacheCapacity capacity(int streams) {
        return KvCacheCapacity.fullyBacked(streams + 1, 1024, 16);
    }

    /**
     * Every pick of a scenario: {@code streams} sequences prefilled with random prompts decode fixed
     * random tokens while a long prompt arrives in {@code chunks}, then {@link #AFTER} steps in
     * which it decodes too. One list per step, in request order (decodes, then the chunk).
     */
    static List<SampledToken[]> scenario(InferenceEngine e, int streams, int[] chunks) {
        Random r = new Random(5);
        int[] seqs = new int[streams];
        for (int i = 0; i < streams; i++) {
            seqs[i] = e.openSequence();
            e.step(List.of(StepRequest.prefill(seqs[i], tokens(r, 20 + r.nextInt(400)), GREEDY, 5)));
        }
        int[] prompt = tokens(r, sum(chunks));
        int longSeq = e.openSequence();
        List<SampledToken[]> out = new ArrayList<>();
        int fed = 0;
        for (int step = 0; step < chunks.length + AFTER; step++) {
            List<StepRequest> reqs = new ArrayList<>();
            for (int s : seqs) reqs.add(StepRequest.decode(s, r.nextInt(config.vocabSize()), GREEDY, 5));
            if (step < chunks.length) {
                int[] chunk = java.util.Arrays.copyOfRange(prompt, fed, fed + chunks[step]);
                fed += chunks[step];
                reqs.add(StepRequest.chunk(longSeq, chunk, 0, step == chunks.length - 1, GREEDY, 5));
            } else {
                reqs.add(StepRequest.decode(longSeq, r.nextInt(config.vocabSize()), GREEDY, 5));
            }
            out.add(e.step(reqs).toArray(new SampledToken[0]));
        }
        return out;
    }

    static int[] tokens(Random r, int n) {
        return GpuTestSupport.randomTokens(r, n, config.vocabSize());
    }

    static int sum(int[] a) {
        int s = 0;
        for (int x : a) s += x;
        return s;
    }

    /**
     * Chunk and decodes over 64 rows ride one pass through the prefill GEMM; narrower steps (17-64
     * rows, the skinny GEMM's; under 16, the GEMVs') keep separate passes. Either way the picks are
     * those of separate passes and of the CPU engine.
     */
    @ParameterizedTest
    @CsvSource({"16, 200 300 137, true", "16, 30 20, false", "4, 5 3, false"})
    void decodesRidingAPrefillChunksPassPickWhatSeparatePassesAndTheCpuEnginePick(int streams, String chunkList,
            boolean onePass) {
        int[] chunks = java.util.Arrays.stream(chunkList.split(" ")).mapToInt(Integer::parseInt).toArray();
        CudaEngine.Options mixedOn = CudaEngine.Options.defaults();
        CudaEngine.Options mixedOff = mixedOn.withKernels(mixedOn.kernels().withMixedSteps(false));
        assertTrue(mixedOn.kernels().mixedSteps());
        List<SampledToken[]> mixed;
        List<SampledToken[]> separate;
        List<SampledToken[]> cpu;
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            try (CudaEngine e = CudaEngine.load(config, ckpt, capacity(streams), LoadProgressListener.NONE, mixedOn)) {
                mixed = scenario(e, streams, chunks);
                assertEquals(onePass ? chunks.length : 0, e.mixedStepsRun(),
                        onePass ? "every step with a chunk ran as one pass" : "narrow steps run separate passes");
            }
            try (CudaEngine e = CudaEngine.load(config, ckpt, capacity(streams), LoadProgressListener.NONE, mixedOff)) {
                separate = scenario(e, streams, chunks);
                assertEquals(0, e.mixedStepsRun());
            }
            try (CpuEngine e = CpuEngine.load(config, ckpt, capacity(streams))) {
                cpu = scenario(e, streams, chunks);
            }
        }
        int rows = 0;
        int sameAsSeparate = 0;
        int sameAsCpu = 0;
        double worst = 0;
        for (int step = 0; step < mixed.size(); step++) {
            SampledToken[] m = mixed.get(step);
            for (int i = 0; i < m.length; i++) {
                boolean chunkRow = i == streams && step < chunks.length;
                if (chunkRow && step < chunks.length - 1) {
                    assertTrue(!m[i].picked() && !separate.get(step)[i].picked(), "a chunk with more to come picks nothing");
                    continue;
                }
                rows++;
                if (m[i].token() == separate.get(step)[i].token()) sameAsSeparate++;
                if (m[i].token() == cpu.get(step)[i].token()) {
                    sameAsCpu++;
                    worst = Math.max(worst, Math.abs(m[i].logprob() - cpu.get(step)[i].logprob()));
                }
            }
        }
        System.out.printf("[mixed] %d streams, chunks %s: %d picks, %d as separate passes, %d as the CPU engine, worst logprob"
                + " gap to CPU %.4f%n", streams, chunkList, rows, sameAsSeparate, sameAsCpu, worst);
        assertTrue(sameAsSeparate >= rows - 2, sameAsSeparate + " of " + rows + " picks as separate passes");
        assertTrue(sameAsCpu >= rows - 2, sameAsCpu + " of " + rows + " picks as the CPU engine");
        assertTrue(worst < 0.05, "worst logprob gap to the CPU engine " + worst);
    }
}

package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import qwenchat.demo.SyntheticCheckpoint;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.StepRequest;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;

/**
 * Wide passes with the tiled split attention ({@link DecodeKernels#tiledAttention}) pick what the
 * one-tile kernels pick: 80 sequences of 20-720 tokens (splits of 256 tokens, most rows several
 * of them, some a partial last tile) decode through graph-captured passes, then decode beside a
 * prompt chunk in one mixed pass, then with that prompt as the 81st row.
 */
@Tag("gpu")
class TiledAttentionEngineTest {
    static final SyntheticCheckpoint.Shape SHAPE = new SyntheticCheckpoint.Shape("tiled", 512, 1024, 2, 4, 2, 2048, false);
    static final SamplingParams GREEDY = SamplingParams.greedyDecoding();
    static final int STREAMS = 80;

    @TempDir
    static Path tmp;
    static Path dir;
    static ModelConfig config;

    @BeforeAll
    static void checkpoint() {
        GpuTestSupport.assumeGpu();
        dir = tmp.resolve("ckpt");
        config = GpuTestSupport.tensorCoreCheckpoint(SHAPE, dir, 23);
    }

    /** Every step's picks, in request order. */
    static List<SampledToken[]> scenario(CudaEngine e) {
        Random r = new Random(9);
        int[] seqs = new int[STREAMS];
        for (int i = 0; i < STREAMS; i++) {
            seqs[i] = e.openSequence();
            e.step(List.of(StepRequest.prefill(seqs[i], tokens(r, 20 + r.nextInt(700)), GREEDY, 5)));
        }
        int late = e.openSequence();
        List<SampledToken[]> out = new ArrayList<>();
        for (int step = 0; step < 7; step++) {
            List<StepRequest> reqs = new ArrayList<>();
            for (int s : seqs) reqs.add(StepRequest.decode(s, r.nextInt(config.vocabSize()), GREEDY, 5));
            if (step == 4) reqs.add(StepRequest.prefill(late, tokens(r, 200), GREEDY, 5));
            if (step > 4) reqs.add(StepRequest.decode(late, r.nextInt(config.vocabSize()), GREEDY, 5));
            out.add(e.step(reqs).toArray(new SampledToken[0]));
        }
        return out;
    }

    static int[] tokens(Random r, int n) {
        return GpuTestSupport.randomTokens(r, n, config.vocabSize());
    }

    @Test
    void widePassesWithTiledSplitAttentionPickWhatOneTileASplitPicks() {
        CudaEngine.Options base = CudaEngine.Options.defaults();
        CudaEngine.Options tiledOn = base.withKernels(base.kernels().withTiledAttention(true));
        CudaEngine.Options tiledOff = base.withKernels(base.kernels().withTiledAttention(false));
        assertTrue(tiledOn.kernels().attentionTiles(STREAMS, false) > 1, "80 rows take the tiled kernels");
        KvCacheCapacity capacity = KvCacheCapacity.fullyBacked(STREAMS + 1, 1024, 16);
        List<SampledToken[]> tiled;
        List<SampledToken[]> oneTile;
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            try (CudaEngine e = CudaEngine.load(config, ckpt, capacity, LoadProgressListener.NONE, tiledOn)) {
                tiled = scenario(e);
                assertEquals(1, e.mixedStepsRun(), "the prompt rode the decodes' pass");
            }
            try (CudaEngine e = CudaEngine.load(config, ckpt, capacity, LoadProgressListener.NONE, tiledOff)) {
                oneTile = scenario(e);
            }
        }
        int rows = 0;
        int same = 0;
        double worst = 0;
        for (int step = 0; step < tiled.size(); step++) {
            for (int i = 0; i < tiled.get(step).length; i++) {
                SampledToken a = tiled.get(step)[i];
                SampledToken b = oneTile.get(step)[i];
                rows++;
                if (a.token() == b.token()) {
                    same++;
                    worst = Math.max(worst, Math.abs(a.logprob() - b.logprob()));
                }
            }
        }
        System.out.printf("[tiled] %d streams: %d picks, %d as one tile a split, worst logprob gap %.2e%n", STREAMS, rows, same,
                worst);
        assertTrue(same >= rows - 2, same + " of " + rows + " picks as one tile a split");
        assertTrue(worst < 1e-3, "worst logprob gap " + worst);
    }
}

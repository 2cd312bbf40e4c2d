package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import qwenchat.engine.ReferenceData;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.sampling.Sampler;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.engine.sampling.TokenHistory;
import qwenchat.weights.Checkpoint;

/**
 * step()'s GPU sampling against the CPU Sampler on identical logits: a second engine on the same
 * checkpoint returns the raw logits (same kernels, bit-identical), the Sampler picks from them,
 * and every token and log-probability must agree, for greedy with penalties and seeded sampling.
 * Rows 0 and 2 are constrained (a different allowed set each), rows 1 and 3 are not, so the one
 * mask launch per pass must find the right logits row for each set.
 */
@Tag("gpu")
class CudaSamplingTest {

    @Test
    void gpuSamplingPicksWhatTheCpuSamplerPicksFromTheSameLogits() {
        GpuTestSupport.assumeGpu();
        ReferenceData ref = ReferenceData.load("tiny-untied-hd64-g2");
        List<SamplingParams> params = List.of(
                new SamplingParams(0, 0, 1, 0, 1.3, 0.5, 0.4, 0),         // greedy with all three penalties
                new SamplingParams(0.7, 20, 0.8, 0, 1.05, 0, 0, 42),      // the checkpoint's defaults
                new SamplingParams(1.3, 0, 0.9, 0.05, 1, 0.3, 0.2, 7),    // no top-k: the whole row goes to the host
                new SamplingParams(1.0, 3, 1, 0, 1, 0, 0, 123456789L));   // top-k alone
        int n = params.size();
        try (Checkpoint ckpt = Checkpoint.open(ref.dir());
             CudaEngine sampler = CudaEngineReferenceTest.engine(ref, ckpt, n, true);
             CudaEngine oracle = CudaEngineReferenceTest.engine(ref, ckpt, n, true)) {
            BitSet[] allowed = new BitSet[n];
            for (int i = 0; i < n; i += 2) {
                allowed[i] = new BitSet();
                java.util.Random rnd = new java.util.Random(17 + i);
                for (int id = 0; id < sampler.config().vocabSize(); id++) if (rnd.nextInt(3) == 0) allowed[i].set(id);
            }
            int[] a = new int[n];
            int[] b = new int[n];
            TokenHistory[] hist = new TokenHistory[n];
            List<StepRequest> step = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                a[i] = sampler.openSequence();
                b[i] = oracle.openSequence();
                hist[i] = new TokenHistory();
                int[] prompt = ref.prompts().get(i).ids();
                hist[i].addPrompt(prompt);
                step.add(StepRequest.prefill(a[i], prompt, params.get(i), 3).restrictedTo(allowed[i]));
            }
            List<SampledToken> got = sampler.step(step);
            float[][] logits = new float[n][];
            for (int i = 0; i < n; i++) logits[i] = oracle.prefillLogits(b[i], ref.prompts().get(i).ids(), false)[0];
            int distinctDraws = 0;
            for (int t = 0; t < 24; t++) {
                int[] next = new int[n];
                for (int i = 0; i < n; i++) {
                    SampledToken want = Sampler.sample(a[i], logits[i], params.get(i), hist[i], 3, allowed[i]);
                    SampledToken g = got.get(i);
                    assertEquals(want.token(), g.token(), "step " + t + " params " + params.get(i));
                    assertEquals(want.logprob(), g.logprob(), 1e-4f, "logprob step " + t);
                    assertEquals(Arrays.toString(want.topIds()), Arrays.toString(g.topIds()), "top ids step " + t);
                    if (allowed[i] != null) assertEquals(true, allowed[i].get(g.token()), "an allowed id, step " + t);
                    if (want.token() != Sampler.argmax(logits[i])) distinctDraws++;
                    next[i] = g.token();
                    hist[i].addGenerated(next[i]);
                }
                step.clear();
                for (int i = 0; i < n; i++) step.add(StepRequest.decode(a[i], next[i], params.get(i), 3).restrictedTo(allowed[i]));
                got = sampler.step(step);
                logits = oracle.decodeLogits(b, next);
            }
            System.out.printf("[sampling] 4 x 24 tokens identical to the CPU Sampler; %d were not the raw argmax%n",
                    distinctDraws);
        }
    }
}

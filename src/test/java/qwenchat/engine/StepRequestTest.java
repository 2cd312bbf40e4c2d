package qwenchat.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.BitSet;
import org.junit.jupiter.api.Test;
import qwenchat.engine.sampling.SamplingParams;

class StepRequestTest {

    static final SamplingParams GREEDY = SamplingParams.greedyDecoding();

    @Test
    void aMaskStaysOnEveryStepThatPicksAndKeepsTheChunkAndRecomputeFields() {
        BitSet allowed = new BitSet();
        allowed.set(3);
        StepRequest last = StepRequest.chunk(1, new int[] {5, 6, 7}, 2, true, GREEDY, 4).restrictedTo(allowed);
        assertThat(last.allowed()).isSameAs(allowed);
        assertThat(last.generatedTail()).isEqualTo(2);
        assertThat(last.sample()).isTrue();
        assertThat(last.topLogprobs()).isEqualTo(4);
        StepRequest recompute = StepRequest.recompute(1, new int[] {5, 6, 7}, 1, GREEDY, 0).restrictedTo(allowed);
        assertThat(recompute.allowed()).isSameAs(allowed);
        assertThat(recompute.promptLength()).isEqualTo(2);
        assertThat(StepRequest.decode(1, 9, GREEDY, 0).restrictedTo(allowed).allowed()).isSameAs(allowed);
    }

    @Test
    void aChunkThatPicksNothingDropsTheMask() {
        BitSet allowed = new BitSet();
        allowed.set(3);
        StepRequest chunk = StepRequest.chunk(1, new int[] {5, 6}, 0, false, GREEDY, 0).restrictedTo(allowed);
        assertThat(chunk.sample()).isFalse();
        assertThat(chunk.allowed()).isNull();
        assertThat(StepRequest.prefill(1, new int[] {5}, GREEDY, 0).allowed()).isNull();
    }
}

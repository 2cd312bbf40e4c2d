package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PreemptionPolicyTest {

    @Test
    void nobodyIsPreemptedWhileTheStepFits() {
        assertThat(PreemptionPolicy.victims(new int[] {1, 1, 0}, new int[] {4, 4, 4}, 2)).isZero();
    }

    @Test
    void theNewestSequencesGiveWayUntilTheRestFit() {
        // Three need a block each, one is free: preempting the newest frees its 2 blocks.
        assertThat(PreemptionPolicy.victims(new int[] {1, 1, 1}, new int[] {5, 3, 2}, 1)).isEqualTo(1);
        // The newest holds nothing yet: it and the next have to go.
        assertThat(PreemptionPolicy.victims(new int[] {1, 1, 1}, new int[] {5, 3, 0}, 0)).isEqualTo(2);
    }

    @Test
    void theOldestSequenceIsNeverPreempted() {
        assertThat(PreemptionPolicy.victims(new int[] {3, 1}, new int[] {9, 1}, 0)).isEqualTo(1);
        assertThat(PreemptionPolicy.victims(new int[] {5}, new int[] {9}, 0)).isZero();
    }

    @Test
    void backgroundSequencesComeLastInTheOrderSoTheyGiveWayFirst() {
        assertThat(PreemptionPolicy.order(new boolean[] {false, true, false, true})).containsExactly(0, 2, 1, 3);
        assertThat(PreemptionPolicy.order(new boolean[] {true, true})).containsExactly(0, 1);
    }
}

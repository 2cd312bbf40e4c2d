package qwenchat.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class BiasMaskTest {

    @Test
    void aRangeDropsTheChosenProjectionsInThoseLayersOnly() {
        BiasMask m = BiasMask.ablate(4, 1, 2, BiasMask.K | BiasMask.V);
        assertThat(m.bits(0)).isZero();
        assertThat(m.keeps(1, BiasMask.Q)).isTrue();
        assertThat(m.keeps(1, BiasMask.K)).isFalse();
        assertThat(m.keeps(2, BiasMask.V)).isFalse();
        assertThat(m.bits(3)).isZero();
        assertThat(m.isEmpty()).isFalse();
        assertThat(BiasMask.none(4).isEmpty()).isTrue();
        assertThat(BiasMask.ablate(4, 0, 3, 0).isEmpty()).as("no projection chosen drops nothing").isTrue();
    }

    @Test
    void aRangeOutsideTheModelOrUnknownBitsAreRejected() {
        assertThatThrownBy(() -> BiasMask.ablate(4, 2, 4, BiasMask.K)).hasMessageContaining("2..4");
        assertThatThrownBy(() -> BiasMask.ablate(4, 3, 1, BiasMask.K)).hasMessageContaining("from <= to");
        assertThatThrownBy(() -> BiasMask.ablate(4, 0, 1, 8)).hasMessageContaining("Q=1, K=2, V=4");
    }

    @Test
    void aLabPassDropsBiasesOnlyWhenItsMaskDropsSomeAndFitsOnlyItsModelsDepth() {
        StepRequest plain = StepRequest.prefill(0, new int[] {1, 2}, qwenchat.engine.sampling.SamplingParams.greedyDecoding(), 0);
        LabPass none = new LabPass(BiasMask.none(4), null);
        LabPass k = new LabPass(BiasMask.ablate(4, 0, 3, BiasMask.K), null);

        assertThat(LabPass.droppedBiases(plain)).isNull();
        assertThat(LabPass.droppedBiases(plain.withLab(none))).as("an empty mask is an ordinary pass").isNull();
        assertThat(LabPass.droppedBiases(plain.withLab(k))).isEqualTo(k.ablated());
        k.requireLayers(4);
        assertThatThrownBy(() -> k.requireLayers(28)).hasMessage("the bias mask covers 4 layers but the model has 28");
    }
}

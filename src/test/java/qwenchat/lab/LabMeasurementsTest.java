package qwenchat.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import qwenchat.engine.LabProbe;

class LabMeasurementsTest {

    @Test
    void klIsZeroForTheSameDistributionAndMatchesTheClosedFormOtherwise() {
        assertThat(LabMeasurements.kl(new float[] {1, 2, 3}, new float[] {1, 2, 3})).isZero();
        // softmax(0, 0) = (1/2, 1/2) against softmax(ln 3, 0) = (3/4, 1/4): KL = ln(4/3) / 2.
        double kl = LabMeasurements.kl(new float[] {0, 0}, new float[] {(float) Math.log(3), 0});
        assertThat(kl).isCloseTo(Math.log(4.0 / 3) / 2, within(1e-6));
        // Shifting every logit by a constant is the same distribution.
        assertThat(LabMeasurements.kl(new float[] {1, 5}, new float[] {11, 15})).isCloseTo(0, within(1e-9));
    }

    @Test
    void everyLayerGetsItsKlAndBothRunsTopTokens() {
        float[][] entropy = {{0.5f}, {0.7f}};
        float[][] sink = {{0.9f}, {0.2f}};
        LabProbe live = new LabProbe(new float[][] {{0, 3, 0}, {5, 0, 0}}, entropy, sink);
        LabProbe ablated = new LabProbe(new float[][] {{0, 3, 0}, {0, 0, 5}}, entropy, sink);
        LabMeasurements m = LabMeasurements.of(live, ablated);
        assertThat(m.layers()).isEqualTo(2);
        assertThat(m.heads()).isEqualTo(1);
        assertThat(m.klPerLayer()[0]).isZero();
        assertThat(m.klPerLayer()[1]).isGreaterThan(1);
        assertThat(m.liveTop1()).containsExactly(1, 0);
        assertThat(m.ablatedTop1()).containsExactly(1, 2);
    }
}

package qwenchat.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import qwenchat.engine.BiasMask;

class LabRequestTest {

    @Test
    void theProjectionLettersAndLayerRangeBecomeTheMask() {
        BiasMask m = new LabRequest("hi", "KV", 1, 2, 8).mask(4);
        assertThat(m.bits(0)).isZero();
        assertThat(m.bits(1)).isEqualTo(BiasMask.K | BiasMask.V);
        assertThat(m.bits(2)).isEqualTo(BiasMask.K | BiasMask.V);
        assertThat(m.bits(3)).isZero();
    }

    @Test
    void badInputIsRejectedNamingTheField() {
        assertThatThrownBy(() -> new LabRequest(" ", "k", 0, 0, 8)).hasMessageStartingWith("prompt:");
        assertThatThrownBy(() -> new LabRequest("hi", "kx", 0, 0, 8)).hasMessageStartingWith("projections:");
        assertThatThrownBy(() -> new LabRequest("hi", "", 0, 0, 8)).hasMessageStartingWith("projections:");
        assertThatThrownBy(() -> new LabRequest("hi", "k", 0, 0, 0)).hasMessageStartingWith("maxTokens:");
        assertThatThrownBy(() -> new LabRequest("hi", "k", 3, 1, 8).mask(4)).hasMessageStartingWith("layers:");
        assertThatThrownBy(() -> new LabRequest("hi", "k", 0, 4, 8).mask(4)).hasMessageContaining("0..3");
    }
}

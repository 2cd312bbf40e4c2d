package qwenchat.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class RopeScalingSettingTest {

    private static ModelConfig qwen7b(RopeScaling scaling) {
        return new ModelConfig("qwen2", 3584, 18944, 28, 28, 4, 128, 152064, 32768, 1e6, 1e-6, false, scaling,
                "bfloat16");
    }

    @Test
    void yarn4OnAnUnmodifiedQwenCheckpointIsWhatTheModelCardHasUsersWriteIntoConfigJson() {
        ModelConfig c = RopeScalingSetting.parse("yarn:4").applyTo(qwen7b(null));
        assertThat(c.ropeScaling().isYarn()).isTrue();
        assertThat(c.ropeScaling().factor()).isEqualTo(4.0);
        assertThat(c.ropeScaling().originalMaxPositionEmbeddings()).isEqualTo(32768);
        assertThat(c.contextLength()).isEqualTo(131072);
        assertThat(c.maxPositionEmbeddings()).isEqualTo(32768);
    }

    @Test
    void noneLeavesTheCheckpointsConfigAsItIs() {
        ModelConfig plain = qwen7b(null);
        assertThat(RopeScalingSetting.parse("none").applyTo(plain)).isSameAs(plain);
        ModelConfig scaled = qwen7b(new RopeScaling("yarn", 4, 32768, null, 32, 1));
        assertThat(RopeScalingSetting.parse("none").applyTo(scaled)).isSameAs(scaled);
    }

    @Test
    void aConfigThatAlreadyScalesKeepsItsNativeWindow() {
        ModelConfig scaled = new ModelConfig("qwen2", 3584, 18944, 28, 28, 4, 128, 152064, 131072, 1e6, 1e-6, false,
                new RopeScaling("yarn", 4, 32768, null, 32, 1), "bfloat16");
        ModelConfig c = RopeScalingSetting.parse("yarn:2").applyTo(scaled);
        assertThat(c.ropeScaling().originalMaxPositionEmbeddings()).isEqualTo(32768);
        assertThat(c.contextLength()).isEqualTo(65536);
    }

    @Test
    void aMalformedSettingIsRefusedNamingTheProperty() {
        assertThatThrownBy(() -> RopeScalingSetting.parse("yarn")).hasMessageContaining("qwen.rope-scaling")
                .hasMessageContaining("'yarn'");
        assertThatThrownBy(() -> RopeScalingSetting.parse("yarn:1")).hasMessageContaining("above 1");
        assertThat(RopeScalingSetting.parse("YARN:4.5").yarnFactor()).isEqualTo(4.5);
    }
}

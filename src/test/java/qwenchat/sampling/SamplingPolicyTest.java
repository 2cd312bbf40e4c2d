package qwenchat.sampling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.GenerationConfig;
import qwenchat.presets.PresetSampling;

class SamplingPolicyTest {

    static final GenerationConfig MODEL = new GenerationConfig(List.of(1), null, null, true, 0.7, 0.8, 20, 1.05);
    static final PresetSampling PRESET = new PresetSampling(0.3, 0.9, 40, 1.2, 200);
    final SamplingPolicy policy = new SamplingPolicy(512);

    @Test
    void theRequestWinsOverPresetModelAndServer() {
        SamplingPolicy.Resolved r = policy.resolve(new SamplingChoice(1.5, 0.5, 5, 0.1, 1.3, 0.4, -0.2, 9L, 64), PRESET, MODEL,
                4096);
        assertThat(r.sampling()).isEqualTo(new SamplingParams(1.5, 5, 0.5, 0.1, 1.3, 0.4, -0.2, 9L));
        assertThat(r.maxTokens()).isEqualTo(64);
    }

    @Test
    void thePresetWinsOverTheModelWhereTheRequestIsSilent() {
        SamplingPolicy.Resolved r = policy.resolve(new SamplingChoice(null, null, null, null, null, null, null, 1L, null),
                PRESET, MODEL, 4096);
        assertThat(r.sampling()).isEqualTo(new SamplingParams(0.3, 40, 0.9, 0, 1.2, 0, 0, 1L));
        assertThat(r.maxTokens()).isEqualTo(200);
    }

    @Test
    void generationConfigThenTheServerDefaultFillWhatNeitherSets() {
        SamplingPolicy.Resolved r = policy.resolve(new SamplingChoice(null, null, null, null, null, null, null, 1L, null),
                PresetSampling.NONE, MODEL, 4096);
        assertThat(r.sampling()).isEqualTo(new SamplingParams(0.7, 20, 0.8, 0, 1.05, 0, 0, 1L));
        assertThat(r.maxTokens()).as("generation_config has no length: the server default").isEqualTo(512);
    }

    @Test
    void aDefaultLengthIsCappedAtTheContextLeftARequestedOneIsNotAndAnUnsetSeedIsRandom() {
        assertThat(policy.resolve(SamplingChoice.NONE, PRESET, MODEL, 50).maxTokens()).isEqualTo(50);
        assertThat(policy.resolve(SamplingChoice.NONE, PresetSampling.NONE, MODEL, 50).maxTokens()).isEqualTo(50);
        assertThat(policy.resolve(new SamplingChoice(null, null, null, null, null, null, null, null, 900), PRESET, MODEL, 50)
                .maxTokens()).as("the API refuses it with a clear 400").isEqualTo(900);
        assertThat(policy.resolve(SamplingChoice.NONE, PRESET, MODEL, 50).sampling().seed())
                .isNotEqualTo(policy.resolve(SamplingChoice.NONE, PRESET, MODEL, 50).sampling().seed());
    }

    @Test
    void outOfRangeValuesNameTheSetting() {
        assertThatThrownBy(() -> policy.resolve(new SamplingChoice(null, 0.0, null, null, null, null, null, null, null),
                PresetSampling.NONE, MODEL, 10)).hasMessageContaining("top_p");
        assertThatThrownBy(() -> new SamplingPolicy(0)).hasMessageContaining("qwen.default-max-tokens");
    }
}

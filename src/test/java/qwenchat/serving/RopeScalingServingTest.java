package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import qwenchat.model.ModelConfig;

/** qwen.rope-scaling reaches the engine: the config it is built with, and the context served. */
class RopeScalingServingTest {

    private static ModelConfig configTheEngineSees(String ropeScaling, Integer maxTokensPerSequence) throws Exception {
        QwenProperties p = new QwenProperties(null, DemoServing.DEMO_DIR, "cpu", 2, maxTokensPerSequence, 4,
                Duration.ofMinutes(1), 2, List.of(), 1 << 20, 0.9, null, 64, ropeScaling);
        EngineFactory real = new DefaultEngineFactory(p);
        AtomicReference<ModelConfig> seen = new AtomicReference<>();
        ModelLoader loader = new ModelLoader(p, (config, checkpoint, capacity, progress) -> {
            seen.set(config);
            return real.create(config, checkpoint, capacity, progress);
        });
        try {
            loader.start();
            LoadWait.settled(loader, Duration.ofSeconds(120));
            assertThat(loader.status().state()).isEqualTo(LoadState.READY);
            assertThat(loader.served().orElseThrow().config()).isSameAs(seen.get());
            if (maxTokensPerSequence != null) {
                assertThat(loader.served().orElseThrow().contextLength()).isEqualTo(maxTokensPerSequence);
            }
            return seen.get();
        } finally {
            loader.stop();
        }
    }

    @Test
    void yarn4GivesTheEngineYarnOverTheNativeWindowAndFourTimesTheContext() throws Exception {
        ModelConfig c = configTheEngineSees("yarn:4", 40000);
        assertThat(c.ropeScaling()).isNotNull();
        assertThat(c.ropeScaling().isYarn()).isTrue();
        assertThat(c.ropeScaling().factor()).isEqualTo(4.0);
        assertThat(c.ropeScaling().originalMaxPositionEmbeddings()).isEqualTo(32768);
        assertThat(c.contextLength()).isEqualTo(131072);
    }

    @Test
    void noneServesTheCheckpointsOwnConfig() throws Exception {
        ModelConfig c = configTheEngineSees("none", null);
        assertThat(c.ropeScaling()).isNull();
        assertThat(c.contextLength()).isEqualTo(32768);
    }
}

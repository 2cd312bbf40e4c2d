package qwenchat.hub;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** qwen.hub.* binds with the hub's defaults, is off without a model, and names a malformed repository id. */
class HubPropertiesTest {

    private final ApplicationContextRunner runner = new ApplicationContextRunner().withUserConfiguration(HubConfiguration.class);

    @Test
    void defaultsPointAtHuggingFaceAndDownloadNothing() {
        runner.run(ctx -> {
            HubProperties p = ctx.getBean(HubProperties.class);
            assertThat(p.enabled()).isFalse();
            assertThat(p.endpoint()).isEqualTo(URI.create("https://huggingface.co"));
            assertThat(p.revision()).isEqualTo("main");
            assertThat(p.timeout()).isEqualTo(Duration.ofSeconds(30));
            assertThat(p.readTimeout()).isEqualTo(Duration.ofSeconds(60));
            assertThat(p.retries()).isEqualTo(5);
            assertThat(p.cacheRoot()).isEqualTo(Path.of(System.getProperty("user.home"), ".cache", "qwen-chat", "hub"));
        });
    }

    @Test
    void modelAndMirrorBindAndBlankValuesMeanUnset() {
        runner.withPropertyValues("qwen.hub.model=Qwen/Qwen2.5-7B-Instruct", "qwen.hub.endpoint=https://hf-mirror.example/",
                "qwen.hub.token=", "qwen.hub.revision=refs/pr/1", "qwen.hub.cache-dir=/cache/hub").run(ctx -> {
            HubProperties p = ctx.getBean(HubProperties.class);
            assertThat(p.enabled()).isTrue();
            assertThat(p.token()).isNull();
            assertThat(new ModelDownloader(p).targetDirectory())
                    .isEqualTo(Path.of("/cache/hub/Qwen--Qwen2.5-7B-Instruct/refs--pr--1"));
            assertThat(new HubClient(p).fileUrl("config.json"))
                    .isEqualTo("https://hf-mirror.example/Qwen/Qwen2.5-7B-Instruct/resolve/refs%2Fpr%2F1/config.json");
        });
    }

    @Test
    void readTimeoutBindsFromItsProperty() {
        runner.withPropertyValues("qwen.hub.read-timeout=250ms").run(ctx ->
                assertThat(ctx.getBean(HubProperties.class).readTimeout()).isEqualTo(Duration.ofMillis(250)));
    }

    @Test
    void zeroReadTimeoutFailsStartupNamingTheProperty() {
        runner.withPropertyValues("qwen.hub.read-timeout=0s").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(ctx.getStartupFailure()).rootCause().hasMessageContaining("qwen.hub.read-timeout")
                    .hasMessageContaining("must be positive");
        });
    }

    @Test
    void malformedRepositoryIdFailsStartupNamingTheProperty() {
        runner.withPropertyValues("qwen.hub.model=../../etc").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(ctx.getStartupFailure()).rootCause().hasMessageContaining("qwen.hub.model")
                    .hasMessageContaining("must be a hub repository id like Qwen/Qwen2.5-7B-Instruct");
        });
    }
}

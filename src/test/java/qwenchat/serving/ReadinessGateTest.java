package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import qwenchat.engine.EngineException;

/**
 * The readiness gate on the demo model: the port answers at once, readiness is 503 while the
 * weights load (held at the engine seam by a latch, so the test sees the loading state for sure),
 * then 200 once warm-up and self-check passed; liveness is UP all along.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo-v1", "qwen.cpu-threads=2", "qwen.kv-max-sequences=4"})
class ReadinessGateTest {

    static final CountDownLatch RELEASE = new CountDownLatch(1);

    @TestConfiguration
    static class HeldEngine {
        @Bean
        @org.springframework.context.annotation.Primary
        EngineFactory heldEngineFactory(QwenProperties properties) {
            EngineFactory real = new DefaultEngineFactory(properties);
            return (config, checkpoint, capacity, progress) -> {
                try {
                    if (!RELEASE.await(60, TimeUnit.SECONDS)) throw new EngineException("the test never released loading");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new EngineException("interrupted", e);
                }
                return real.create(config, checkpoint, capacity, progress);
            };
        }
    }

    @LocalServerPort
    int port;

    @Autowired
    ModelRuntime runtime;

    @AfterEach
    void release() {
        RELEASE.countDown();
    }

    @Test
    void readinessIs503WhileLoadingThen200WhenReady() throws Exception {
        Http http = new Http(port);
        Http.Reply loading = http.await("/actuator/health/readiness", 503, Duration.ofSeconds(1));
        assertThat(loading.status()).isEqualTo(503);
        // Resolving and validating the demo files may still be running; wait for the held weights stage.
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (runtime.status().stage() != LoadStage.LOAD_WEIGHTS && System.nanoTime() < end) Thread.sleep(20);
        loading = http.get("/actuator/health/readiness");
        assertThat(loading.status()).isEqualTo(503);
        var model = loading.json().at("/components/model");
        assertThat(model.at("/status").asString()).isEqualTo("OUT_OF_SERVICE");
        assertThat(model.at("/details/stage").asString()).isEqualTo("LOAD_WEIGHTS");
        assertThat(model.at("/details/percent").asDouble()).isBetween(2.0, 95.0);
        assertThat(model.at("/details/demo").asBoolean()).isTrue();
        assertThat(runtime.served()).isEmpty();

        Http.Reply api = http.post("/v1/chat/completions", "application/json",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(api.status()).isEqualTo(503);
        assertThat(api.json().at("/error/message").asString()).matches("model is loading \\(\\d+%\\)");
        assertThat(api.raw().headers().firstValue("Retry-After")).isPresent();
        assertThat(http.get("/v1/models").status()).isEqualTo(503);

        Http.Reply live = http.get("/actuator/health/liveness");
        assertThat(live.status()).isEqualTo(200);
        assertThat(live.json().at("/status").asString()).isEqualTo("UP");

        RELEASE.countDown();
        Http.Reply ready = http.await("/actuator/health/readiness", 200, Duration.ofSeconds(90));
        assertThat(ready.status()).as(ready.body()).isEqualTo(200);
        assertThat(ready.json().at("/components/model/details/state").asString()).isEqualTo("READY");
        assertThat(ready.json().at("/components/readinessState/status").asString()).isEqualTo("UP");

        LoadStatus s = runtime.status();
        assertThat(s.state()).isEqualTo(LoadState.READY);
        assertThat(s.percent()).isEqualTo(100.0);
        assertThat(s.bytesDone()).isEqualTo(s.bytesTotal()).isPositive();
        // Tied embeddings: the embedding, 12 tensors per layer, the final norm.
        int layers = runtime.served().orElseThrow().config().numHiddenLayers();
        assertThat(s.tensorsDone()).isEqualTo(s.tensorsTotal()).isEqualTo(1 + 12 * layers + 1);
        assertThat(s.stages()).extracting(StageTiming::stage).containsExactly(LoadStage.RESOLVE_MODEL,
                LoadStage.VALIDATE_FILES, LoadStage.LOAD_WEIGHTS, LoadStage.WARM_UP, LoadStage.SELF_CHECK);
        assertThat(s.stages()).allSatisfy(t -> assertThat(t.durationMillis()).isNotNull());
        ServedModel served = runtime.served().orElseThrow();
        assertThat(served.demo()).isTrue();
        assertThat(served.name()).isEqualTo(qwenchat.weights.ModelDirectory.DEMO_LABEL);
        // The demo's 32K context, capped per KV slot for CPU memory.
        assertThat(served.contextLength()).isEqualTo(QwenProperties.DEFAULT_CPU_TOKEN_CAP);
    }
}

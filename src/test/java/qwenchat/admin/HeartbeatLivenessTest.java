package qwenchat.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Primary;
import qwenchat.serving.LoadWait;
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.EngineFactory;
import qwenchat.generation.FinishReason;
import qwenchat.serving.GeneratedToken;
import qwenchat.serving.GenerationException;
import qwenchat.serving.GenerationListener;
import qwenchat.generation.GenerationRequest;
import qwenchat.generation.GenerationUsage;
import qwenchat.serving.HeldEngines;
import qwenchat.serving.Http;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.QwenProperties;

/**
 * The decode-loop heartbeat: an idle loop stays live however long it idles; an engine step that
 * hangs past {@code qwen.admin.stall-timeout}, or a listener that blocks the loop with work in
 * flight, turns liveness DOWN; it recovers when the loop runs again.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo-v1", "qwen.cpu-threads=2", "qwen.kv-max-sequences=2",
        "qwen.admin.stall-timeout=1s", "qwen.admin.token=heartbeat-test", "qwen.data-dir=target/heartbeat-test-data"})
class HeartbeatLivenessTest {

    static final AtomicReference<BlockingEngine> ENGINE = new AtomicReference<>();

    @TestConfiguration
    static class Blocking {
        @Bean
        @Primary
        EngineFactory blockingEngineFactory(QwenProperties properties) {
            EngineFactory real = HeldEngines.heldUntil(new CountDownLatch(0), properties);
            return (config, checkpoint, capacity, progress) -> {
                BlockingEngine e = new BlockingEngine(real.create(config, checkpoint, capacity, progress));
                ENGINE.set(e);
                return e;
            };
        }
    }

    @LocalServerPort
    int port;
    @Autowired
    ModelRuntime runtime;
    @Autowired
    BatchScheduler scheduler;

    @Test
    void aStepThatHangsPastTheStallTimeoutTurnsLivenessDownAndBackUp() throws Exception {
        LoadWait.ready(runtime);
        Http http = new Http(port);

        // Idle for longer than the stall timeout: not stalled.
        Thread.sleep(1500);
        Http.Reply idle = http.get("/actuator/health/liveness");
        assertThat(idle.status()).isEqualTo(200);
        assertThat(idle.json().path("components").path("decodeLoop").path("status").asString()).isEqualTo("UP");

        BlockingEngine engine = ENGINE.get();
        engine.block = true;
        Thread chat = Thread.ofVirtual().start(() -> http.post("/v1/chat/completions", "application/json",
                "{\"model\":\"qwen\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":4}"));
        assertThat(engine.entered.await(30, TimeUnit.SECONDS)).isTrue();
        long blockedAt = System.nanoTime();

        Http.Reply down = http.await("/actuator/health/liveness", 503, Duration.ofSeconds(10));
        double afterSeconds = (System.nanoTime() - blockedAt) / 1e9;
        assertThat(down.status()).isEqualTo(503);
        assertThat(down.json().path("status").asString()).isEqualTo("DOWN");
        assertThat(down.json().path("components").path("decodeLoop").path("details").path("reason").asString())
                .startsWith("an engine step has been running for");
        assertThat(afterSeconds).isGreaterThanOrEqualTo(0.9).isLessThan(5);
        // Readiness is about the model, not the loop: the probes stay independent.
        assertThat(http.get("/actuator/health/readiness").status()).isEqualTo(200);
        Http.Reply overview = http.send(java.net.http.HttpRequest.newBuilder(http.uri("/admin/api/overview"))
                .header("Authorization", "Bearer heartbeat-test").GET());
        assertThat(overview.json().path("health").path("liveness").asString()).isEqualTo("BROKEN");

        engine.block = false;
        engine.release.countDown();
        chat.join(30_000);
        assertThat(http.await("/actuator/health/liveness", 200, Duration.ofSeconds(10)).status()).isEqualTo(200);
        System.out.printf("liveness turned DOWN %.2f s after the step blocked (stall timeout 1 s)%n", afterSeconds);
    }

    @Test
    void aListenerThatBlocksTheLoopAlsoTurnsLivenessDown() throws Exception {
        LoadWait.settled(runtime, Duration.ofSeconds(120));
        Http http = new Http(port);
        assertThat(http.await("/actuator/health/liveness", 200, Duration.ofSeconds(10)).status()).isEqualTo(200);
        CountDownLatch unblock = new CountDownLatch(1);
        CountDownLatch blocked = new CountDownLatch(1);
        int[] prompt = runtime.served().orElseThrow().chatTemplate()
                .render(List.of(new qwenchat.tokenizer.ChatMessage("user", "hi")), true).ids();
        scheduler.submit(new GenerationRequest("blocking-listener", prompt, 3,
                qwenchat.engine.sampling.SamplingParams.greedyDecoding(), List.of(), 0), new GenerationListener() {
                    @Override public void onStart(int promptTokens) { }
                    @Override public void onToken(GeneratedToken token) {
                        // A listener that breaks the contract and blocks the loop thread.
                        blocked.countDown();
                        try {
                            unblock.await(60, TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    @Override public void onComplete(FinishReason reason, String tail, GenerationUsage usage) { }
                    @Override public void onError(GenerationException error) { }
                });
        assertThat(blocked.await(30, TimeUnit.SECONDS)).isTrue();
        try {
            Http.Reply down = http.await("/actuator/health/liveness", 503, Duration.ofSeconds(10));
            assertThat(down.status()).isEqualTo(503);
            assertThat(down.json().path("components").path("decodeLoop").path("details").path("reason").asString())
                    .startsWith("requests are in flight (0 waiting) but the decode loop has not run for");
        } finally {
            unblock.countDown();
        }
        assertThat(http.await("/actuator/health/liveness", 200, Duration.ofSeconds(10)).status()).isEqualTo(200);
    }
}

package qwenchat.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import qwenchat.serving.LoadWait;
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.SchedulerStats;
import qwenchat.tokenizer.ChatMessage;
import tools.jackson.databind.JsonNode;

/** The socket against the real scheduler and CPU engine on the demo checkpoint. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo", "qwen.cpu-threads=2", "qwen.kv-max-sequences=4"})
class ChatSocketRealModelTest {

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry r) throws Exception {
        String dir = Files.createTempDirectory("qwen-webchat-real").toString();
        r.add("qwen.data-dir", () -> dir);
    }

    @LocalServerPort
    int port;
    @Autowired
    ModelRuntime runtime;
    @Autowired
    BatchScheduler scheduler;

    @BeforeEach
    void awaitReady() throws InterruptedException {
        LoadWait.ready(runtime);
    }

    private static Map<String, Object> chat(String id, String text, Map<String, Object> params) {
        return Map.of("type", "chat", "id", id, "presetId", "general",
                "messages", List.of(new ChatMessage("user", text)), "params", params);
    }

    private void awaitIdle() throws InterruptedException {
        long deadline = System.currentTimeMillis() + 5000;
        while ((scheduler.stats().openSequences() > 0 || scheduler.runningCount() > 0) && System.currentTimeMillis() < deadline) {
            Thread.sleep(5);
        }
    }

    @Test
    void threeSocketsDecodeInOneBatchAndStopFreesEverySequence() throws Exception {
        awaitIdle();
        SchedulerStats before = scheduler.stats();
        try (TestSocket a = TestSocket.open(port); TestSocket b = TestSocket.open(port); TestSocket c = TestSocket.open(port)) {
            List<TestSocket> all = List.of(a, b, c);
            for (int i = 0; i < 3; i++) all.get(i).send(chat("s" + i, "Tell a long story " + i, Map.of("maxTokens", 2000, "seed", i)));
            for (TestSocket s : all) {
                s.next("start");
                s.next("delta");
            }
            // Let a few steps run with all three sequences open.
            long deadline = System.currentTimeMillis() + 5000;
            while (scheduler.stats().maxDecodeBatch() < 3 && System.currentTimeMillis() < deadline) Thread.sleep(5);
            assertThat(scheduler.stats().maxDecodeBatch()).isGreaterThanOrEqualTo(3);

            long t0 = System.nanoTime();
            for (TestSocket s : all) s.send(Map.of("type", "stop"));
            for (TestSocket s : all) {
                JsonNode done = s.next("done");
                assertThat(done.path("finishReason").asString()).isEqualTo("cancelled");
                assertThat(done.path("usage").path("completionTokens").asInt()).isBetween(1, 1999);
            }
            double stopMillis = (System.nanoTime() - t0) / 1e6;
            awaitIdle();
            SchedulerStats after = scheduler.stats();
            System.out.printf("stop of 3 batched generations: all done frames within %.1f ms%n", stopMillis);
            assertThat(after.openSequences()).isZero();
            assertThat(after.reservedTokens()).isZero();
            assertThat(after.cancelled() - before.cancelled()).isEqualTo(3);
        }
    }

    @Test
    void closingTheSocketFreesItsSequence() throws Exception {
        awaitIdle();
        long cancelledBefore = scheduler.stats().cancelled();
        TestSocket s = TestSocket.open(port);
        try {
            s.send(chat("gone", "Keep talking", Map.of("maxTokens", 2000)));
            s.next("delta");
            // The scheduler publishes its counts after each step, so the first token can arrive first.
            long deadline = System.currentTimeMillis() + 5000;
            while (scheduler.runningCount() != 1 && System.currentTimeMillis() < deadline) Thread.sleep(5);
            assertThat(scheduler.runningCount()).isEqualTo(1);
        } finally {
            s.abort();
        }
        awaitIdle();
        assertThat(scheduler.runningCount()).isZero();
        assertThat(scheduler.stats().openSequences()).isZero();
        assertThat(scheduler.stats().cancelled()).isEqualTo(cancelledBefore + 1);
    }

    @Test
    void sameSeedStreamsTheSameReplyAndDeltasAddUpToIt() throws Exception {
        try (TestSocket s = TestSocket.open(port)) {
            s.next("status");
            String[] texts = new String[2];
            for (int run = 0; run < 2; run++) {
                s.clear();
                s.send(chat("r" + run, "你好", Map.of("maxTokens", 24, "seed", 7, "temperature", 0.8)));
                JsonNode done = s.next("done");
                texts[run] = s.seen("delta").stream().map(d -> d.path("text").asString()).collect(Collectors.joining());
                assertThat(s.types().get(0)).isEqualTo("start");
                assertThat(done.path("usage").path("completionTokens").asInt()).isBetween(1, 24);
                assertThat(done.path("ttftMillis").asLong()).isPositive();
            }
            assertThat(texts[0]).isNotEmpty().isEqualTo(texts[1]);
        }
    }
}

package qwenchat.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import qwenchat.generation.FinishReason;
import qwenchat.tokenizer.ChatMessage;

/** A client that stops reading must not make the server buffer its reply without bound. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"qwen.web.send-buffer-bytes=65536", "qwen.web.send-time-limit=2s", FakeServing.NO_REAL_MODEL})
@Import(FakeServing.class)
class SlowClientTest {

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry r) throws Exception {
        String dir = Files.createTempDirectory("qwen-webchat-slow").toString();
        r.add("qwen.data-dir", () -> dir);
    }

    @LocalServerPort
    int port;
    @Autowired
    FakeModelRuntime runtime;
    @Autowired
    FakeGenerationService generation;

    private static Map<String, Object> chat(String id) {
        return Map.of("type", "chat", "id", id, "presetId", "general",
                "messages", List.of(new ChatMessage("user", "talk")), "params", Map.of("maxTokens", 200));
    }

    @Test
    void clientThatStopsReadingIsCutOffAndItsGenerationCancelled() throws Exception {
        generation.reset();
        runtime.ready(FakeServing.model(1_000_000));
        // Up to 900k tokens of 4 KB each: gigabytes if the server buffered them all.
        generation.script(new FakeGenerationService.Script(List.of("x".repeat(4000)), 900_000, 0, "", FinishReason.LENGTH, null));
        TestSocket s = TestSocket.openNotReading(port);
        s.send(Map.of("type", "chat", "id", "slow", "presetId", "general",
                "messages", List.of(new ChatMessage("user", "talk")), "params", Map.of("maxTokens", 900_000)));
        long deadline = System.currentTimeMillis() + 20_000;
        while (generation.handles().isEmpty() && System.currentTimeMillis() < deadline) Thread.sleep(5);
        FakeGenerationService.Handle h = generation.last();
        while (!h.isDone() && System.currentTimeMillis() < deadline) Thread.sleep(5);
        assertThat(h.isDone()).as("generation ended").isTrue();
        assertThat(h.cancelled()).as("cancelled by the server").isTrue();
        // Socket buffers on both sides hold a few MB at most; the server queue 64 KB.
        assertThat(h.emitted()).isLessThan(10_000);
        s.abort();
    }

    @Test
    void readingClientGetsALargeReplyWhole() throws Exception {
        generation.reset();
        runtime.ready(FakeServing.model());
        String bigToken = "y".repeat(4000);
        generation.script(new FakeGenerationService.Script(List.of(bigToken), 60, 1, "", FinishReason.STOP, null));
        try (TestSocket s = TestSocket.open(port)) {
            s.send(chat("fine"));
            assertThat(s.next("done").path("finishReason").asString()).isEqualTo("stop");
            assertThat(s.seen("delta")).hasSize(60); // 240 KB in all, well past the 64 KB buffer
        }
        assertThat(generation.last().cancelled()).isFalse();
    }
}

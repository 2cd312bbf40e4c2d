package qwenchat.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.util.ArrayList;
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
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.LoadWait;
import qwenchat.serving.ModelRuntime;
import qwenchat.tokenizer.ChatMessage;
import tools.jackson.databind.JsonNode;

/** The chat socket over a KV pool too small for its chats: streams survive preemption intact. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo", "qwen.cpu-threads=2", "qwen.kv-max-sequences=4",
        "qwen.kv-cache-bytes=400000", "qwen.kv-block-size=16"})
class ChatSocketKvPoolTest {

    static final int MAX_TOKENS = 100;

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry r) throws Exception {
        String dir = Files.createTempDirectory("qwen-webchat-kvpool").toString();
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

    private static Map<String, Object> chat(String id, String text) {
        return Map.of("type", "chat", "id", id, "presetId", "general",
                "messages", List.of(new ChatMessage("user", text)),
                "params", Map.of("maxTokens", MAX_TOKENS, "temperature", 0.0));
    }

    /** The reply's text as the client assembles it from delta frames, and the done frame. */
    private record Reply(String text, JsonNode done) {
    }

    private static Reply read(TestSocket s) throws InterruptedException {
        JsonNode done = s.next("done");
        String text = s.seen("delta").stream().map(d -> d.path("text").asString()).collect(Collectors.joining());
        return new Reply(text, done);
    }

    @Test
    void concurrentChatsThatOutgrowThePoolStreamTheSameTextAsAlone() throws Exception {
        List<String> questions = List.of("Tell a long story about ships.", "Explain tides slowly.", "Count the stars.");
        List<Reply> alone = new ArrayList<>();
        for (int i = 0; i < questions.size(); i++) {
            try (TestSocket s = TestSocket.open(port)) {
                s.send(chat("a" + i, questions.get(i)));
                alone.add(read(s));
            }
        }
        long preemptionsBefore = scheduler.stats().preemptions();
        List<TestSocket> sockets = new ArrayList<>();
        try {
            for (int i = 0; i < questions.size(); i++) sockets.add(TestSocket.open(port));
            for (int i = 0; i < questions.size(); i++) sockets.get(i).send(chat("t" + i, questions.get(i)));
            for (int i = 0; i < questions.size(); i++) {
                Reply r = read(sockets.get(i));
                assertThat(sockets.get(i).seen("error")).isEmpty();
                assertThat(sockets.get(i).seen("start")).hasSize(1);
                assertThat(r.text()).as("reply %d", i).isEqualTo(alone.get(i).text());
                assertThat(r.done().path("finishReason").asString()).isEqualTo(alone.get(i).done().path("finishReason").asString());
                assertThat(r.done().path("usage").path("completionTokens").asInt())
                        .isEqualTo(alone.get(i).done().path("usage").path("completionTokens").asInt());
            }
        } finally {
            for (TestSocket s : sockets) s.close();
        }
        assertThat(scheduler.stats().preemptions()).as("preemptions").isGreaterThan(preemptionsBefore);
    }

    @Test
    void aConversationLongerThanTheWholePoolGetsAnErrorFrameNotAHang() throws Exception {
        // The pool, 256 tokens, is smaller than the demo's context, so it is the served context.
        int pool = runtime.served().orElseThrow().contextLength();
        assertThat(pool).isEqualTo(256);
        try (TestSocket s = TestSocket.open(port)) {
            s.send(chat("long", "word ".repeat(pool)));
            JsonNode e = s.next("error");
            assertThat(e.path("code").asString()).isEqualTo("context_overflow");
            assertThat(e.path("message").asString()).contains(pool + " tokens");
        }
    }
}

package qwenchat.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Proxy;
import java.net.URI;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.springframework.web.socket.TextMessage;
import org.springframework.web.socket.WebSocketSession;
import qwenchat.presets.AtomicFileWriter;
import qwenchat.presets.PresetStore;
import qwenchat.sampling.SamplingPolicy;
import qwenchat.tokenizer.ChatMessage;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The connection without a server: frames are "sent" on the thread that produces them, so a client
 * that reacts to a frame before the server thread has moved on can be played deterministically.
 */
class ChatConnectionTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @Test
    void aChatSentTheMomentDoneArrivesIsAccepted() throws Exception {
        FakeModelRuntime runtime = new FakeModelRuntime();
        runtime.ready(FakeServing.model());
        FakeGenerationService generation = new FakeGenerationService();
        PresetStore presets = new PresetStore(Files.createTempDirectory("qwen-connection-test"), new AtomicFileWriter(), JSON);
        WebChatProperties limits = new WebChatProperties(262144, 1 << 20, java.time.Duration.ofSeconds(10), List.of(), 16, 100,
                java.time.Duration.ofSeconds(60), java.time.Duration.ofSeconds(20));
        BlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
        ChatConnection[] connection = new ChatConnection[1];
        // The "client" answers c1's done with its next chat while the server is still inside the send.
        WebSocketSession session = session(frame -> {
            frames.add(frame);
            if ("done".equals(frame.path("type").asString()) && "c1".equals(frame.path("id").asString())) {
                connection[0].onFrame(chat("c2"));
            }
        });
        FrameSender sender = new FrameSender(session, Runnable::run, 1 << 20, 10_000, () -> { });
        connection[0] = new ChatConnection(sender, runtime, generation, presets, limits, JSON,
                "the request ran past its time limit", new SamplingPolicy(SamplingPolicy.DEFAULT_MAX_TOKENS));

        connection[0].onFrame(chat("c1"));

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            JsonNode f = frames.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            assertThat(f).as("a frame before the deadline").isNotNull();
            assertThat(f.path("type").asString()).as("frame %s", f).isNotEqualTo("error");
            if ("done".equals(f.path("type").asString()) && "c2".equals(f.path("id").asString())) break;
        }
    }

    private static ClientFrame chat(String id) {
        return new ClientFrame("chat", id, null, "general", List.of(new ChatMessage("user", "hi")), ChatParams.NONE);
    }

    private static WebSocketSession session(Consumer<JsonNode> onFrame) {
        return (WebSocketSession) Proxy.newProxyInstance(ChatConnectionTest.class.getClassLoader(),
                new Class<?>[] {WebSocketSession.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "sendMessage" -> {
                        onFrame.accept(JSON.readTree(((TextMessage) args[0]).getPayload()));
                        yield null;
                    }
                    case "isOpen" -> true;
                    case "getId" -> "test";
                    case "getUri" -> URI.create("ws://localhost/ws/chat");
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "test session";
                    default -> null;
                });
    }
}

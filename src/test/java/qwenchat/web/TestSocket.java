package qwenchat.web;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** A real WebSocket client (the JDK's) that collects frames as JSON, in arrival order. */
public final class TestSocket implements AutoCloseable {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final BlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
    private final List<JsonNode> seen = new ArrayList<>();
    final CompletableFuture<Integer> closedWith = new CompletableFuture<>();
    private final WebSocket ws;
    private final boolean autoRead;

    private TestSocket(URI uri, String origin, boolean autoRead) throws Exception {
        this.autoRead = autoRead;
        WebSocket.Builder b = HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5));
        if (origin != null) b.header("Origin", origin);
        ws = b.buildAsync(uri, new Listener()).get(10, TimeUnit.SECONDS);
    }

    public static TestSocket open(int port) throws Exception {
        return new TestSocket(URI.create("ws://localhost:" + port + "/ws/chat"), null, true);
    }

    public static TestSocket open(int port, String origin) throws Exception {
        return new TestSocket(URI.create("ws://localhost:" + port + "/ws/chat"), origin, true);
    }

    /** A client that reads one frame and then stops reading, like a stalled browser tab. */
    public static TestSocket openNotReading(int port) throws Exception {
        return new TestSocket(URI.create("ws://localhost:" + port + "/ws/chat"), null, false);
    }

    public void send(String text) {
        ws.sendText(text, true).join();
    }

    public void sendBinary(byte[] bytes) {
        ws.sendBinary(java.nio.ByteBuffer.wrap(bytes), true).join();
    }

    public boolean isClosed() {
        return closedWith.isDone();
    }

    public void send(Object frame) {
        send(JSON.writeValueAsString(frame));
    }

    /** Next frame of this type, skipping (but recording) others; fails after 10 s. */
    public JsonNode next(String type) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            JsonNode f = frames.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (f == null) throw new AssertionError("no '" + type + "' frame within 10 s; saw " + types());
            seen.add(f);
            if (type.equals(f.path("type").asString())) return f;
        }
    }

    /** Frames of the given type received since the last {@link #clear}, in order. */
    public List<JsonNode> seen(String type) {
        return seen.stream().filter(f -> type.equals(f.path("type").asString())).toList();
    }

    public List<String> types() {
        return seen.stream().map(f -> f.path("type").asString()).toList();
    }

    public void clear() {
        seen.clear();
    }

    public void abort() {
        ws.abort();
    }

    @Override
    public void close() {
        if (!ws.isOutputClosed()) ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").exceptionally(e -> null);
    }

    private final class Listener implements WebSocket.Listener {
        private final StringBuilder partial = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                frames.add(JSON.readTree(partial.toString()));
                partial.setLength(0);
            }
            if (autoRead) webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closedWith.complete(statusCode);
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closedWith.complete(-1);
        }
    }
}

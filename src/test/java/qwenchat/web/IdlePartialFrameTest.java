package qwenchat.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import qwenchat.tokenizer.ChatMessage;

/**
 * A frame header that promises a payload which never comes must not hold a socket forever:
 * {@code qwen.web.read-idle-timeout} closes it, while quiet healthy clients stay open on pings.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {FakeServing.NO_REAL_MODEL,
        "qwen.web.read-idle-timeout=1s", "qwen.web.ping-interval=300ms"})
@Import(FakeServing.class)
class IdlePartialFrameTest {

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry r) throws Exception {
        Path dir = Files.createTempDirectory("qwen-idle-frames");
        r.add("qwen.data-dir", dir::toString);
    }

    @LocalServerPort
    int port;
    @Autowired
    FakeModelRuntime runtime;
    @Autowired
    ChatSocketHandler handler;

    /** Opens a WebSocket by hand and returns the socket positioned after the 101 response. */
    private Socket handshake() throws IOException {
        Socket s = new Socket("localhost", port);
        s.setSoTimeout(15_000);
        s.getOutputStream().write(("GET /ws/chat HTTP/1.1\r\nHost: localhost:" + port + "\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        InputStream in = s.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) throw new EOFException("handshake cut off: " + head);
            head.write(b);
        }
        assertThat(head.toString(StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 101");
        return s;
    }

    @Test
    void aFrameHeaderDeclaringAHugePayloadThenSilenceIsClosedWithinTheReadIdleTimeout() throws Exception {
        runtime.ready(FakeServing.model());
        int before = handler.openSessions();
        try (Socket s = handshake()) {
            OutputStream out = s.getOutputStream();
            // FIN + text, masked, 64-bit length 2^62, a mask key, then not one payload byte.
            out.write(new byte[] {(byte) 0x81, (byte) 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4});
            out.flush();
            long sent = System.nanoTime();

            DataInputStream in = new DataInputStream(s.getInputStream());
            long closeFrameAt = -1;
            long endAt;
            try {
                while (true) {
                    int b0 = in.readUnsignedByte();
                    int len = in.readUnsignedByte() & 0x7f;
                    long payload = len == 126 ? in.readUnsignedShort() : len == 127 ? in.readLong() : len;
                    in.skipNBytes(payload);
                    if ((b0 & 0x0f) == 0x8 && closeFrameAt < 0) closeFrameAt = System.nanoTime();
                }
            } catch (EOFException | SocketException ended) {
                endAt = System.nanoTime();
            }
            double closeSeconds = (closeFrameAt - sent) / 1e9;
            double endSeconds = (endAt - sent) / 1e9;
            assertThat(closeFrameAt).as("the server sent a close frame").isPositive();
            // Not at once (the header itself is acceptable), but once the socket has been idle for the timeout.
            assertThat(closeSeconds).isBetween(0.9, 2.5);
            assertThat(endSeconds).as("the connection itself is closed").isLessThan(5.0);
        }
        long end = System.nanoTime() + 5_000_000_000L;
        while (handler.openSessions() > before && System.nanoTime() < end) Thread.sleep(20);
        assertThat(handler.openSessions()).isEqualTo(before);
    }

    @Test
    void aQuietHealthyClientStaysOpenBecauseItAnswersPings() throws Exception {
        runtime.ready(FakeServing.model());
        try (TestSocket s = TestSocket.open(port)) {
            s.next("status");
            Thread.sleep(3_000); // three read-idle timeouts without a single frame from the client
            assertThat(s.isClosed()).isFalse();
            s.send(Map.of("type", "chat", "id", "still-here", "presetId", "general",
                    "messages", List.of(new ChatMessage("user", "hi")), "params", Map.of()));
            assertThat(s.next("done").path("id").asString()).isEqualTo("still-here");
        }
    }
}

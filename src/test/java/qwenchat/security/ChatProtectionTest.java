package qwenchat.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import qwenchat.serving.QwenProperties;
import qwenchat.web.FakeServing;

/** {@code qwen.security.protect-chat=true}: the chat page's socket and preset list need an API key. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {FakeServing.NO_REAL_MODEL,
        "qwen.admin.token=" + ChatProtectionTest.ADMIN_TOKEN, "qwen.api-keys=" + ChatProtectionTest.CHAT_KEY,
        "qwen.security.protect-chat=true", "qwen.data-dir=" + PathBypassTest.DATA_DIR})
@Import(FakeServing.class)
class ChatProtectionTest {

    static final String ADMIN_TOKEN = "protect-admin-token";
    static final String CHAT_KEY = "chat-user-key";

    @LocalServerPort
    int port;

    private String ticket(String key) {
        RawHttp.Reply r = new RawHttp(port).send("POST", "/api/chat/ticket", key);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.header("Cache-Control")).contains("no-store");
        return r.json().path("ticket").asString();
    }

    /** Opens the socket and returns its first text frame (the status frame), or throws the handshake failure. */
    private String firstFrame(String query) throws Exception {
        CompletableFuture<String> first = new CompletableFuture<>();
        WebSocket ws = HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5))
                .buildAsync(URI.create("ws://localhost:" + port + "/ws/chat" + query), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
                        first.complete(data.toString());
                        return null;
                    }
                }).get(10, TimeUnit.SECONDS);
        try {
            return first.get(10, TimeUnit.SECONDS);
        } finally {
            ws.abort();
        }
    }

    private static int handshakeStatus(Throwable e) {
        Throwable t = e;
        while (t != null && !(t instanceof WebSocketHandshakeException)) t = t.getCause();
        assertThat(t).as("a refused handshake").isNotNull();
        return ((WebSocketHandshakeException) t).getResponse().statusCode();
    }

    @Test
    void theChatSocketOpensOnlyWithATicketBoughtWithAnApiKey() throws Exception {
        assertThatThrownBy(() -> firstFrame("")).isInstanceOf(ExecutionException.class)
                .satisfies(e -> assertThat(handshakeStatus(e)).isEqualTo(401));
        assertThatThrownBy(() -> firstFrame("?ticket=made-up")).satisfies(e -> assertThat(handshakeStatus(e)).isEqualTo(401));

        String ticket = ticket(CHAT_KEY);
        assertThat(ticket).doesNotContain(CHAT_KEY);
        assertThat(firstFrame("?ticket=" + ticket)).contains("\"type\":\"status\"");
        // Spent on first use.
        assertThatThrownBy(() -> firstFrame("?ticket=" + ticket)).satisfies(e -> assertThat(handshakeStatus(e)).isEqualTo(401));
    }

    @Test
    void ticketsNeedAnApiKeyAndOpenOnlyTheirOwnConnection() throws Exception {
        RawHttp http = new RawHttp(port);
        RawHttp.Reply none = http.send("POST", "/api/chat/ticket", null);
        assertThat(none.status()).isEqualTo(401);
        assertThat(none.json().path("error").path("message").asString()).contains("missing API key");
        assertThat(http.send("POST", "/api/chat/ticket", "wrong").status()).isEqualTo(401);
        // The admin token is not an API key.
        assertThat(http.send("POST", "/api/chat/ticket", ADMIN_TOKEN).status()).isEqualTo(401);

        String chatTicket = ticket(CHAT_KEY);
        assertThat(http.send("GET", "/admin/api/events?ticket=" + chatTicket, null).status()).isEqualTo(401);
        String adminTicket = http.send("POST", "/admin/api/ticket", ADMIN_TOKEN).json().path("ticket").asString();
        assertThatThrownBy(() -> firstFrame("?ticket=" + adminTicket)).satisfies(e -> assertThat(handshakeStatus(e)).isEqualTo(401));
    }

    @Test
    void readingAPdfsTextNeedsAnApiKeyLikeTheChat() {
        RawHttp http = new RawHttp(port);
        assertThat(http.send("POST", "/api/files/pdf-text", null).status()).isEqualTo(401);
        assertThat(http.send("POST", "/api/files/pdf-text", ADMIN_TOKEN).status()).isEqualTo(401);
        // With a key the request reaches the endpoint, which wants a PDF body rather than this one.
        assertThat(http.send("POST", "/api/files/pdf-text", CHAT_KEY).status()).isNotIn(401, 403, 404);
    }

    @Test
    void presetsAreReadWithAnApiKeyAndStillChangedWithTheAdminTokenOnly() {
        RawHttp http = new RawHttp(port);
        RawHttp.Reply none = http.send("GET", "/api/presets", null);
        assertThat(none.status()).isEqualTo(401);
        assertThat(none.header("WWW-Authenticate")).startsWith("Bearer");
        assertThat(none.json().path("error").path("message").asString()).contains("missing API key");
        assertThat(http.send("GET", "/api/presets/general", "wrong").json().path("error").path("message").asString())
                .contains("incorrect API key");
        assertThat(http.send("GET", "/api/presets", CHAT_KEY).status()).isEqualTo(200);
        assertThat(http.send("GET", "/api/presets/%67eneral", null).status()).isEqualTo(401);

        String preset = "{\"id\":\"nope\",\"name\":{\"en\":\"Nope\"}}";
        assertThat(http.send("POST", "/api/presets", CHAT_KEY, preset).json().path("error").path("message").asString())
                .contains("admin token");
    }

    @Test
    void thePagesStayOpenSoTheyCanAskForTheKey() {
        RawHttp http = new RawHttp(port);
        assertThat(http.send("GET", "/", null).status()).isEqualTo(200);
        assertThat(http.send("GET", "/chat.js", null).status()).isEqualTo(200);
    }

    @Test
    void protectingTheChatWithoutAnyApiKeyIsRefusedAtStartup() {
        QwenProperties noKeys = new QwenProperties(null, null, "cpu", 4, null, 4, Duration.ofMinutes(1), 1, List.of(), 1 << 20);
        assertThatThrownBy(() -> new SecurityConfiguration().apiKeys(noKeys, new AccessProperties(true)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("qwen.security.protect-chat").hasMessageContaining("QWEN_API_KEYS");
        assertThat(new SecurityConfiguration().apiKeys(noKeys, new AccessProperties(false)).configured()).isFalse();
    }
}

package qwenchat.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.RateLimitException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import qwenchat.serving.LoadWait;
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.Http;
import qwenchat.serving.ModelRuntime;

/** API keys, the body size limit and over-admission (one KV slot, a queue of one). */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo-v1", "qwen.cpu-threads=2", "qwen.kv-max-sequences=1", "qwen.queue-limit=1",
        "qwen.api-keys=first-key,second-key", "qwen.max-request-bytes=4096"})
class ApiLimitsTest {

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

    OpenAIClient client(String key) {
        return OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey(key).maxRetries(0)
                .timeout(Duration.ofSeconds(120)).build();
    }

    static ChatCompletionCreateParams params(int maxTokens) {
        return ChatCompletionCreateParams.builder().model("qwen").addUserMessage("hello").temperature(0.0)
                .maxCompletionTokens(maxTokens).build();
    }

    @Test
    void apiKeysAreRequiredAndAnyConfiguredKeyWorks() {
        assertThatThrownBy(() -> client("wrong-key").chat().completions().create(params(2)))
                .isInstanceOfSatisfying(UnauthorizedException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(401);
                    assertThat(e.code()).contains("invalid_api_key");
                });
        // A prefix of a real key is still wrong.
        assertThatThrownBy(() -> client("first-ke").models().list()).isInstanceOf(UnauthorizedException.class);
        Http.Reply none = new Http(port).post("/v1/chat/completions", "application/json", "{}");
        assertThat(none.status()).isEqualTo(401);
        assertThat(none.json().at("/error/message").asString()).contains("missing API key");

        ChatCompletion ok = client("second-key").chat().completions().create(params(2));
        assertThat(ok.usage().orElseThrow().completionTokens()).isEqualTo(2);
        // Health stays open for orchestrators.
        assertThat(new Http(port).get("/actuator/health/readiness").status()).isEqualTo(200);
    }

    @Test
    void bodyOverTheLimitIs413() {
        String big = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(5000) + "\"}]}";
        Http.Reply r = new Http(port).send(HttpRequest.newBuilder(new Http(port).uri("/v1/chat/completions"))
                .header("Content-Type", "application/json").header("Authorization", "Bearer first-key")
                .POST(HttpRequest.BodyPublishers.ofString(big)));
        assertThat(r.status()).isEqualTo(413);
        assertThat(r.json().at("/error/message").asString()).contains("4096 bytes");
    }

    @Test
    void overAdmissionIs429WithRetryAfter() throws Exception {
        OpenAIClient c = client("first-key");
        ChatCompletionCreateParams longOne = params(3000).toBuilder().temperature(0.8).build();
        try (StreamResponse<ChatCompletionChunk> running = c.chat().completions().createStreaming(longOne)) {
            Iterator<ChatCompletionChunk> it = running.stream().iterator();
            it.next();
            it.next(); // a token arrived: the only slot is taken
            CompletableFuture<ChatCompletion> queued = CompletableFuture.supplyAsync(() -> c.chat().completions().create(params(3)));
            long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (scheduler.waitingCount() < 1 && System.nanoTime() < end) Thread.sleep(5);
            assertThat(scheduler.waitingCount()).isEqualTo(1);

            assertThatThrownBy(() -> c.chat().completions().create(params(3)))
                    .isInstanceOfSatisfying(RateLimitException.class, e -> {
                        assertThat(e.statusCode()).isEqualTo(429);
                        assertThat(e.headers().values("Retry-After")).singleElement()
                                .satisfies(v -> assertThat(Integer.parseInt(v)).isPositive());
                        assertThat(e.code()).contains("server_busy");
                    });
            running.close();
            // Hanging up frees the slot; the queued request then runs.
            assertThat(queued.get(60, TimeUnit.SECONDS).usage().orElseThrow().completionTokens()).isEqualTo(3);
        }
    }
}

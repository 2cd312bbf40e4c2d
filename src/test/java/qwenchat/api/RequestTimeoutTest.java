package qwenchat.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.InternalServerException;
import com.openai.errors.OpenAIException;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.LoadWait;
import qwenchat.serving.ModelRuntime;
import qwenchat.tokenizer.ChatMessage;
import qwenchat.web.TestSocket;
import tools.jackson.databind.JsonNode;

/**
 * A generation that runs past {@code qwen.request-timeout} is an error on every surface, never a
 * normal finish: a 504, an error event in the stream, a {@code done} frame that says "timeout".
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo-v1", "qwen.cpu-threads=2", "qwen.request-timeout=700ms"})
class RequestTimeoutTest {

    @LocalServerPort
    int port;

    @Autowired
    ModelRuntime runtime;

    @Autowired
    BatchScheduler scheduler;

    OpenAIClient client;

    @BeforeEach
    void setUp() throws InterruptedException {
        LoadWait.ready(runtime);
        client = OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("unused")
                .maxRetries(0).timeout(Duration.ofSeconds(60)).build();
    }

    /** Far more tokens than the demo model can generate within the time limit on a CPU. */
    ChatCompletionCreateParams endless() {
        return ChatCompletionCreateParams.builder().model("qwen").addUserMessage("Tell me everything.").temperature(1.0)
                .maxCompletionTokens(3500).build();
    }

    @Test
    void aStreamThatTimesOutEndsWithAnErrorEventTheOfficialClientRaises() {
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        assertThatThrownBy(() -> {
            try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(endless())) {
                stream.stream().forEach(chunks::add);
            }
        }).isInstanceOf(OpenAIException.class).hasMessageContaining("time limit").hasMessageContaining("qwen.request-timeout");
        assertThat(chunks).isNotEmpty();
        assertThat(chunks).allSatisfy(c -> c.choices().forEach(ch -> assertThat(ch.finishReason()).isEmpty()));
        assertThat(scheduler.stats().openSequences()).isZero();
    }

    @Test
    void aNonStreamedRequestThatTimesOutGets504NamingTheLimit() {
        assertThatThrownBy(() -> client.chat().completions().create(endless()))
                .isInstanceOfSatisfying(InternalServerException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(504);
                    assertThat(e.code()).contains("timeout");
                    assertThat(e.getMessage()).contains("time limit of 700 ms").contains("qwen.request-timeout");
                });
    }

    @Test
    void aChatThatTimesOutGetsADoneFrameWithReasonTimeoutAndTheExplanation() throws Exception {
        try (TestSocket s = TestSocket.open(port)) {
            s.send(Map.of("type", "chat", "id", "slow", "messages", List.of(new ChatMessage("user", "Tell me everything.")),
                    "params", Map.of("maxTokens", 3500, "temperature", 1.0)));
            JsonNode done = s.next("done");
            assertThat(done.path("id").asString()).isEqualTo("slow");
            assertThat(done.path("finishReason").asString()).isEqualTo("timeout");
            assertThat(done.path("error").asString()).contains("time limit").contains("qwen.request-timeout");
            assertThat(done.path("usage").path("completionTokens").asInt()).isLessThan(3500);
        }
    }
}

package qwenchat.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.BadRequestException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.LoadWait;
import qwenchat.serving.ModelRuntime;

/** A KV pool smaller than the model's context: what does not fit it is a 400 naming both sizes. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo-v1", "qwen.cpu-threads=2", "qwen.kv-cache-bytes=400000",
        "qwen.kv-block-size=16"})
class KvPoolLimitApiTest {

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
                .maxRetries(0).timeout(Duration.ofSeconds(120)).build();
    }

    private static ChatCompletionCreateParams params(int maxTokens) {
        return ChatCompletionCreateParams.builder().model("qwen").addUserMessage("hello").temperature(0.0)
                .maxCompletionTokens(maxTokens).build();
    }

    @Test
    void aRequestBeyondThePoolIs400NamingItsTokensAndThePoolsWhileOneWithinItRuns() {
        long pool = scheduler.engineSnapshot().kvBlocks().totalTokens();
        assertThat(pool).as("pool tokens").isLessThan(4096).isEqualTo(runtime.served().orElseThrow().contextLength());
        assertThatThrownBy(() -> client.chat().completions().create(params((int) pool)))
                .isInstanceOfSatisfying(BadRequestException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(400);
                    assertThat(e.code()).contains("context_length_exceeded");
                    assertThat(e.getMessage()).contains("max tokens is " + pool)
                            .contains(pool + " tokens the whole KV cache holds");
                });
        ChatCompletion ok = client.chat().completions().create(params(8));
        assertThat(ok.usage().orElseThrow().completionTokens()).isEqualTo(8);
    }
}

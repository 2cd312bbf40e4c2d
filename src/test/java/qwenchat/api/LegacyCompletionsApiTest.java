package qwenchat.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;
import qwenchat.serving.LoadWait;
import qwenchat.serving.ModelRuntime;
import qwenchat.tokenizer.ChatMessage;

/** {@code POST /v1/completions} with a raw prompt, through the official client; same context as ChatCompletionsApiTest. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo-v1", "qwen.cpu-threads=2", "qwen.kv-max-sequences=32", "qwen.queue-limit=64"})
@ExtendWith(OutputCaptureExtension.class)
class LegacyCompletionsApiTest {

    @LocalServerPort
    int port;

    @Autowired
    ModelRuntime runtime;

    OpenAIClient client;

    @BeforeEach
    void setUp() throws InterruptedException {
        LoadWait.ready(runtime);
        client = OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("unused")
                .maxRetries(0).timeout(Duration.ofSeconds(120)).build();
    }

    CompletionCreateParams.Builder greedy(String prompt, long maxTokens) {
        return CompletionCreateParams.builder().model("qwen").prompt(prompt).temperature(0.0).maxTokens(maxTokens);
    }

    @Test
    void aRawPromptHoldingTheChatTemplateAnswersAsTheChatEndpointDoes() {
        String rendered = runtime.served().orElseThrow().chatTemplate()
                .render(List.of(new ChatMessage("user", ChatCompletionsApiTest.USER)), true).text();
        Completion c = client.completions().create(greedy(rendered, 10).build());
        assertThat(c.id()).startsWith("cmpl-");
        assertThat(c.choices().get(0).finishReason().asString()).isEqualTo("length");
        // Control-token text in a raw prompt is the control token: the prompt is the client's whole text.
        String chat = client.chat().completions().create(com.openai.models.chat.completions.ChatCompletionCreateParams
                .builder().model("qwen").addUserMessage(ChatCompletionsApiTest.USER).temperature(0.0).maxCompletionTokens(10)
                .build()).choices().get(0).message().content().orElseThrow();
        assertThat(c.choices().get(0).text()).isEqualTo(chat);
        assertThat(c.usage().orElseThrow().promptTokens()).isEqualTo(
                runtime.served().orElseThrow().chatTemplate().render(List.of(new ChatMessage("user", ChatCompletionsApiTest.USER)),
                        true).ids().length);
    }

    @Test
    void logprobsComeAsParallelArraysWithTheAskedNumberOfAlternatives() {
        Completion c = client.completions().create(greedy("Once upon a time", 6).logprobs(3).build());
        var lp = c.choices().get(0).logprobs().orElseThrow();
        assertThat(lp.tokens().orElseThrow()).hasSize(6);
        assertThat(lp.tokenLogprobs().orElseThrow()).hasSize(6).allSatisfy(v -> assertThat(v).isLessThanOrEqualTo(0.0));
        assertThat(lp.topLogprobs().orElseThrow()).hasSize(6)
                .allSatisfy(m -> assertThat(m._additionalProperties()).hasSizeBetween(1, 3));
        assertThat(lp.textOffset().orElseThrow().get(0)).isZero();
        assertThat(String.join("", lp.tokens().orElseThrow())).isEqualTo(c.choices().get(0).text());
    }

    @Test
    void streamingGivesTheSameText() {
        String whole = client.completions().create(greedy("Once upon a time", 8).build()).choices().get(0).text();
        StringBuilder streamed = new StringBuilder();
        String[] finish = {null};
        try (StreamResponse<Completion> s = client.completions().createStreaming(greedy("Once upon a time", 8).build())) {
            s.stream().forEach(c -> c.choices().forEach(ch -> {
                streamed.append(ch.text());
                if (!ch._finishReason().isNull() && !ch._finishReason().isMissing()) finish[0] = ch.finishReason().asString();
            }));
        }
        assertThat(streamed.toString()).isEqualTo(whole);
        assertThat(finish[0]).isEqualTo("length");
    }

    @Test
    void whatTheLegacyEndpointDoesNotSupportIsA400NamingTheField() {
        assertThatThrownBy(() -> client.completions().create(greedy("x", 2).echo(true).build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).contains("echo"));
        assertThatThrownBy(() -> client.completions().create(greedy("", 2).build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).contains("prompt"));
        assertThatThrownBy(() -> client.completions().create(greedy("x", 2).logprobs(6).build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).contains("logprobs"));
    }
}

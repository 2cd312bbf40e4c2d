package qwenchat.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.ResponseFormatJsonObject;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.chat.completions.ChatCompletionTokenLogprob;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;
import qwenchat.presets.Preset;
import qwenchat.presets.PresetStore;
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.Http;
import qwenchat.serving.LoadWait;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.SchedulerStats;
import qwenchat.tokenizer.ChatMessage;

/** The OpenAI-compatible API on the demo model, driven by the official openai-java client. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo-v1", "qwen.cpu-threads=2", "qwen.kv-max-sequences=32", "qwen.queue-limit=64"})
@ExtendWith(OutputCaptureExtension.class)
class ChatCompletionsApiTest {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ChatCompletionsApiTest.class);
    static final String USER = "Write a short poem about the sea.";

    @LocalServerPort
    int port;

    @Autowired
    ModelRuntime runtime;

    @Autowired
    BatchScheduler scheduler;

    @Autowired
    PresetStore presets;

    OpenAIClient client;
    Http http;

    @BeforeEach
    void setUp() throws InterruptedException {
        LoadWait.ready(runtime);
        client = OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("unused")
                .maxRetries(0).timeout(Duration.ofSeconds(120)).build();
        http = new Http(port);
    }

    ChatCompletionCreateParams.Builder greedy(int maxTokens) {
        return ChatCompletionCreateParams.builder().model("qwen").addUserMessage(USER).temperature(0.0)
                .maxCompletionTokens(maxTokens);
    }

    int promptTokens(String user) {
        return runtime.served().orElseThrow().chatTemplate().render(List.of(new ChatMessage("user", user)), true).ids().length;
    }

    @Test
    void nonStreamingCompletionHasTextFinishReasonAndUsage() {
        ChatCompletion c = client.chat().completions().create(greedy(12).build());
        assertThat(c.id()).startsWith("chatcmpl-");
        assertThat(c.choices()).hasSize(1);
        assertThat(c.choices().get(0).finishReason().asString()).isEqualTo("length");
        assertThat(c.choices().get(0).message().content()).get().asString().isNotEmpty();
        var usage = c.usage().orElseThrow();
        assertThat(usage.promptTokens()).isEqualTo(promptTokens(USER));
        assertThat(usage.completionTokens()).isEqualTo(12);
        assertThat(usage.totalTokens()).isEqualTo(usage.promptTokens() + 12);
        // max_tokens is the older name of the same limit.
        ChatCompletion old = client.chat().completions().create(ChatCompletionCreateParams.builder().model("qwen")
                .addUserMessage(USER).temperature(0.0).maxTokens(12).build());
        assertThat(old.choices().get(0).message().content()).isEqualTo(c.choices().get(0).message().content());
    }

    @Test
    void nChoicesAreIndependentGenerationsSeededInTurnStreamedOrNot() {
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model("qwen").addUserMessage(USER)
                .temperature(1.0).seed(11).maxCompletionTokens(6).n(3).logprobs(true).topLogprobs(2).build();
        ChatCompletion c = client.chat().completions().create(params);
        assertThat(c.choices()).hasSize(3);
        assertThat(c.choices().stream().map(ch -> ch.index())).containsExactly(0L, 1L, 2L);
        assertThat(c.usage().orElseThrow().completionTokens()).isEqualTo(18);
        assertThat(c.usage().orElseThrow().promptTokens()).isEqualTo(promptTokens(USER));
        assertThat(c.choices().get(2).logprobs().orElseThrow().content().orElseThrow()).hasSize(6);
        // Choice 0 is what n = 1 with the same seed gives; the others take the next seeds.
        String single = client.chat().completions().create(params.toBuilder().n(1).build()).choices().get(0).message()
                .content().orElseThrow();
        assertThat(c.choices().get(0).message().content()).contains(single);
        String[] streamed = {"", "", ""};
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
            s.stream().forEach(ch -> ch.choices().forEach(choice ->
                    choice.delta().content().ifPresent(t -> streamed[(int) choice.index()] += t)));
        }
        for (int i = 0; i < 3; i++) assertThat(c.choices().get(i).message().content()).contains(streamed[i]);
    }

    @Test
    void aSecondRequestWithTheSameLongSystemPromptReportsItsCachedPromptTokensStreamedOrNot() {
        String system = "You answer questions about tide tables for the harbour of a small fishing town. ".repeat(12);
        ChatCompletionCreateParams.Builder first = ChatCompletionCreateParams.builder().model("qwen")
                .addSystemMessage(system).addUserMessage("When is high tide?").temperature(0.0).maxCompletionTokens(4);
        var fresh = client.chat().completions().create(first.build()).usage().orElseThrow();
        assertThat(fresh.promptTokensDetails().orElseThrow().cachedTokens()).contains(0L);

        ChatCompletionCreateParams.Builder second = ChatCompletionCreateParams.builder().model("qwen")
                .addSystemMessage(system).addUserMessage("And low tide?").temperature(0.0).maxCompletionTokens(4);
        var again = client.chat().completions().create(second.build()).usage().orElseThrow();
        long cached = again.promptTokensDetails().orElseThrow().cachedTokens().orElseThrow();
        int block = scheduler.engineSnapshot().capacity().blockSize();
        assertThat(cached).as("cached tokens").isPositive().isLessThan(again.promptTokens());
        assertThat(cached % block).as("whole blocks").isZero();

        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(second
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            s.stream().forEach(chunks::add);
        }
        // The same prompt again: every full block of it is cached now, short of the last token.
        var streamed = chunks.getLast().usage().orElseThrow();
        assertThat(streamed.promptTokensDetails().orElseThrow().cachedTokens())
                .contains((streamed.promptTokens() - 1) / block * block);
    }

    @Test
    void streamingGivesTheSameTextWithRoleFirstOneIdFinishReasonAndUsage() {
        String expected = client.chat().completions().create(greedy(16).build()).choices().get(0).message().content()
                .orElseThrow();
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(greedy(16)
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            s.stream().forEach(chunks::add);
        }
        assertThat(chunks.get(0).choices().get(0).delta().role()).isPresent();
        assertThat(chunks.stream().map(ChatCompletionChunk::id).distinct()).hasSize(1);
        StringBuilder text = new StringBuilder();
        String finish = null;
        for (ChatCompletionChunk ch : chunks) {
            for (var choice : ch.choices()) {
                choice.delta().content().ifPresent(text::append);
                if (choice.finishReason().isPresent()) finish = choice.finishReason().get().asString();
            }
        }
        assertThat(text.toString()).isEqualTo(expected);
        assertThat(finish).isEqualTo("length");
        ChatCompletionChunk last = chunks.get(chunks.size() - 1);
        assertThat(last.choices()).isEmpty();
        assertThat(last.usage().orElseThrow().completionTokens()).isEqualTo(16);
        assertThat(last.usage().orElseThrow().promptTokens()).isEqualTo(promptTokens(USER));
    }

    @Test
    void stopStringsCutTheTextAndNeverLeakWhileStreaming() {
        String full = client.chat().completions().create(greedy(40).build()).choices().get(0).message().content()
                .orElseThrow();
        assertThat(full.length()).isGreaterThan(12);
        String stop = full.substring(full.length() / 2, full.length() / 2 + 3);
        String expected = full.substring(0, full.indexOf(stop));

        ChatCompletion c = client.chat().completions().create(greedy(40).stopOfStrings(List.of("never-here", stop)).build());
        assertThat(c.choices().get(0).message().content()).contains(expected);
        assertThat(c.choices().get(0).finishReason().asString()).isEqualTo("stop");

        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(greedy(40).stop(stop).build())) {
            s.stream().forEach(ch -> ch.choices().forEach(choice -> choice.delta().content().ifPresent(piece -> {
                streamed.append(piece);
                // No prefix of the stop string may have gone out ahead of the text that follows it.
                assertThat(streamed.toString()).doesNotContain(stop);
            })));
        }
        assertThat(streamed.toString()).isEqualTo(expected);
    }

    @Test
    void sameSeedRepeatsAtTemperatureOne() {
        ChatCompletionCreateParams p = ChatCompletionCreateParams.builder().model("qwen").addUserMessage(USER)
                .temperature(1.0).topP(0.95).seed(1234).maxCompletionTokens(16).build();
        String a = client.chat().completions().create(p).choices().get(0).message().content().orElseThrow();
        String b = client.chat().completions().create(p).choices().get(0).message().content().orElseThrow();
        assertThat(b).isEqualTo(a);
        Set<String> others = new HashSet<>();
        for (long seed = 1; seed <= 3; seed++) {
            others.add(client.chat().completions().create(p.toBuilder().seed(seed).build()).choices().get(0).message()
                    .content().orElseThrow());
        }
        assertThat(others).anySatisfy(o -> assertThat(o).isNotEqualTo(a));
    }

    @Test
    void logprobsReportTheChosenTokenAndSortedAlternatives() {
        ChatCompletion c = client.chat().completions().create(greedy(6).logprobs(true).topLogprobs(3).build());
        List<ChatCompletionTokenLogprob> lps = c.choices().get(0).logprobs().orElseThrow().content().orElseThrow();
        assertThat(lps).hasSize(6);
        StringBuilder text = new StringBuilder();
        for (ChatCompletionTokenLogprob lp : lps) {
            assertThat(lp.logprob()).isLessThanOrEqualTo(0.0);
            assertThat(lp.topLogprobs()).hasSize(3);
            // Greedy: the chosen token is the most likely one.
            assertThat(lp.topLogprobs().get(0).token()).isEqualTo(lp.token());
            assertThat(lp.topLogprobs().get(0).logprob()).isEqualTo(lp.logprob());
            assertThat(lp.topLogprobs().get(1).logprob()).isLessThanOrEqualTo(lp.topLogprobs().get(0).logprob());
            text.append(lp.token());
        }
        assertThat(c.choices().get(0).message().content().orElseThrow()).isEqualTo(text.toString());
    }

    @Test
    void modelsListsTheLoadedModel() {
        var models = client.models().list().data();
        assertThat(models).hasSize(1);
        assertThat(models.get(0).id()).isEqualTo(runtime.served().orElseThrow().name());
    }

    @Test
    void unknownUrlsAndMethodsAreOpenAiShaped404s() {
        for (Http.Reply r : List.of(http.get("/v1/nothing-here"), http.get("/v1/chat/completions"),
                http.post("/v1/models", "application/json", "{}"))) {
            assertThat(r.status()).isEqualTo(404);
            assertThat(r.json().at("/error/code").asString()).isEqualTo("unknown_url");
            assertThat(r.json().at("/error/message").asString()).startsWith("Unknown request URL: ");
        }
    }

    @Test
    void errorsComeInOpenAiShapeNamingTheParameter() {
        assertThatThrownBy(() -> client.chat().completions().create(greedy(5).temperature(2.5).build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(400);
                    assertThat(e.param()).contains("temperature");
                    assertThat(e.type()).contains("invalid_request_error");
                });
        int context = runtime.served().orElseThrow().contextLength();
        int prompt = promptTokens(USER);
        assertThatThrownBy(() -> client.chat().completions().create(greedy(context).build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> {
                    assertThat(e.code()).contains("context_length_exceeded");
                    assertThat(e.getMessage()).contains(prompt + " tokens").contains("max tokens is " + context)
                            .contains("context size of " + context);
                });
        String huge = "word ".repeat(context + 100);
        int hugePrompt = promptTokens(huge);
        assertThatThrownBy(() -> client.chat().completions().create(ChatCompletionCreateParams.builder().model("qwen")
                .addUserMessage(huge).build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> {
                    assertThat(e.code()).contains("context_length_exceeded");
                    assertThat(e.getMessage()).contains(hugePrompt + " tokens").contains("context size of " + context);
                });
        assertThatThrownBy(() -> client.chat().completions().create(greedy(5).n(9).build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).contains("n"));
        // JSON mode is constrained: even random demo weights answer with an object.
        String json = client.chat().completions().create(greedy(24)
                .responseFormat(ResponseFormatJsonObject.builder().build()).build()).choices().get(0).message().content()
                .orElseThrow();
        assertThat(tools.jackson.databind.json.JsonMapper.builder().build().readTree(json).isObject()).as(json).isTrue();
    }

    @Test
    void everyBadInputGetsItsClientErrorBeforeTheEngineRuns() {
        String ok = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
        record Case(String contentType, String body, int status, String param) {
        }
        List<Case> cases = List.of(
                new Case("text/plain", "{" + ok + "}", 415, null),
                new Case("application/json", "[1,2]", 400, null),
                new Case("application/json", "\"text\"", 400, null),
                new Case("application/json", "{\"messages\": [", 400, null),
                new Case("application/json", "{}", 400, "messages"),
                new Case("application/json", "{\"messages\":[]}", 400, "messages"),
                new Case("application/json", "{\"messages\":\"hi\"}", 400, "messages"),
                new Case("application/json", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", 400, "messages[0].role"),
                new Case("application/json", "{\"messages\":[{\"role\":\"user\"}]}", 400, "messages[0].content"),
                new Case("application/json", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", 400,
                        "messages[0].content[0].type"),
                new Case("application/json", "{" + ok + ",\"temperature\":NaN}", 400, null),
                new Case("application/json", "{" + ok + ",\"temperature\":\"NaN\"}", 400, "temperature"),
                new Case("application/json", "{" + ok + ",\"temperature\":-0.1}", 400, "temperature"),
                new Case("application/json", "{" + ok + ",\"temperature\":2.01}", 400, "temperature"),
                new Case("application/json", "{" + ok + ",\"top_p\":0}", 400, "top_p"),
                new Case("application/json", "{" + ok + ",\"top_p\":1.5}", 400, "top_p"),
                new Case("application/json", "{" + ok + ",\"max_tokens\":0}", 400, "max_tokens"),
                new Case("application/json", "{" + ok + ",\"max_tokens\":1.5}", 400, "max_tokens"),
                new Case("application/json", "{" + ok + ",\"max_completion_tokens\":\"10\"}", 400, "max_completion_tokens"),
                new Case("application/json", "{" + ok + ",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", 400, "stop"),
                new Case("application/json", "{" + ok + ",\"stop\":[\"\"]}", 400, "stop"),
                new Case("application/json", "{" + ok + ",\"presence_penalty\":3}", 400, "presence_penalty"),
                new Case("application/json", "{" + ok + ",\"top_logprobs\":21,\"logprobs\":true}", 400, "top_logprobs"),
                new Case("application/json", "{" + ok + ",\"seed\":1.5}", 400, "seed"),
                new Case("application/json", "{" + ok + ",\"n\":9}", 400, "n"),
                new Case("application/json", "{" + ok + ",\"n\":0}", 400, "n"),
                new Case("application/json", "{" + ok + ",\"preset\":\"no-such-preset\"}", 400, "preset"),
                new Case("application/json", "{" + ok + ",\"response_format\":{\"type\":\"json_schema\"}}", 400,
                        "response_format.json_schema"),
                new Case("application/json", "{" + ok + ",\"response_format\":{\"type\":\"grammar\"}}", 400,
                        "response_format.type"),
                new Case("application/json", "{" + ok + ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
                        + "{\"name\":\"x\",\"schema\":{\"type\":\"string\",\"pattern\":\"a+\"}}}}", 400,
                        "response_format.json_schema.schema"),
                new Case("application/json", "{" + ok + ",\"tool_choice\":\"required\"}", 400, "tool_choice"),
                new Case("application/json", "{" + ok + ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"bad name\"}}]}",
                        400, "tools[0].function.name"));
        long stepsBefore = scheduler.stats().steps();
        for (Case c : cases) {
            Http.Reply r = http.post("/v1/chat/completions", c.contentType(), c.body());
            assertThat(r.status()).as(c.body()).isEqualTo(c.status());
            assertThat(r.json().at("/error/message").asString()).as(c.body()).isNotBlank();
            assertThat(r.json().at("/error/type").asString()).as(c.body()).isEqualTo("invalid_request_error");
            if (c.param() != null) assertThat(r.json().at("/error/param").asString()).as(c.body()).isEqualTo(c.param());
        }
        assertThat(scheduler.stats().steps()).isEqualTo(stepsBefore);
    }

    @Test
    void loneSurrogatesAndUnloggableIdsAreRefusedInEveryTextFieldNamingIt() {
        String ok = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
        String lone = "a\\ud800b";
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("{\"messages\":[{\"role\":\"user\",\"content\":\"" + lone + "\"}]}", "messages[0].content");
        cases.put("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"" + lone + "\"}]}]}",
                "messages[0].content[0].text");
        cases.put("{\"messages\":[{\"role\":\"" + lone + "\",\"content\":\"hi\"}]}", "messages[0].role");
        cases.put("{" + ok + ",\"stop\":[\"fine\",\"" + lone + "\"]}", "stop[1]");
        cases.put("{" + ok + ",\"stop\":\"" + lone + "\"}", "stop");
        cases.put("{" + ok + ",\"user\":\"" + lone + "\"}", "user");
        cases.put("{" + ok + ",\"model\":\"" + lone + "\"}", "model");
        cases.put("{" + ok + ",\"preset\":\"" + lone + "\"}", "preset");
        cases.put("{" + ok + ",\"metadata\":{\"note\":\"" + lone + "\"}}", "metadata.note");
        cases.put("{" + ok + ",\"user\":\"u\\nrequest id=FORGED\"}", "user");
        cases.put("{" + ok + ",\"user\":\"" + "u".repeat(200) + "\"}", "user");
        long stepsBefore = scheduler.stats().steps();
        cases.forEach((body, param) -> {
            Http.Reply r = http.post("/v1/chat/completions", "application/json", body);
            assertThat(r.status()).as(body).isEqualTo(400);
            assertThat(r.json().at("/error/param").asString()).as(body).isEqualTo(param);
            assertThat(r.json().at("/error/message").asString()).as(body).startsWith(param + " ");
            assertThat(r.body().chars().noneMatch(c -> Character.isSurrogate((char) c))).as(body).isTrue();
        });
        assertThat(http.post("/v1/chat/completions", "application/json", "{" + ok + ",\"user\":\"" + "u".repeat(200) + "\"}")
                .json().at("/error/message").asString()).isEqualTo("user is 200 characters; the limit is 128");
        assertThat(scheduler.stats().steps()).isEqualTo(stepsBefore);
        // A proper surrogate pair (an emoji) is text like any other.
        assertThat(http.post("/v1/chat/completions", "application/json",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud83d\\ude00\"}],\"max_tokens\":2}").status()).isEqualTo(200);
    }

    @Test
    void malformedJsonIsDescribedByPositionWithoutJavaNames() {
        Http.Reply r = http.post("/v1/chat/completions", "application/json", "{\"messages\": [");
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().at("/error/message").asString()).startsWith("the request body is not valid JSON")
                .contains("line 1, column").doesNotContain("tools.jackson").doesNotContain("java.").doesNotContain("Source");
    }

    @Test
    void aTemperatureTooSmallToDivideByDecodesGreedily() {
        ChatCompletion greedy = client.chat().completions().create(greedy(6).logprobs(true).build());
        ChatCompletion tiny = client.chat().completions().create(greedy(6).temperature(1e-40).logprobs(true).build());
        assertThat(tiny.choices().get(0).message().content()).isEqualTo(greedy.choices().get(0).message().content());
        List<ChatCompletionTokenLogprob> lps = tiny.choices().get(0).logprobs().orElseThrow().content().orElseThrow();
        List<ChatCompletionTokenLogprob> expected = greedy.choices().get(0).logprobs().orElseThrow().content().orElseThrow();
        assertThat(lps.stream().map(ChatCompletionTokenLogprob::token).toList())
                .isEqualTo(expected.stream().map(ChatCompletionTokenLogprob::token).toList());
        assertThat(lps).allSatisfy(lp -> assertThat(lp.logprob()).isFinite().isLessThanOrEqualTo(0));
    }

    @Test
    void presetFramesTheConversationAndItsSamplingDefaultsApplyUnderTheRequests() {
        // json-extractor is greedy (temperature 0) with a system prompt of its own.
        Preset preset = presets.get("json-extractor");
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + USER + "\"}],\"max_tokens\":8,"
                + "\"preset\":\"json-extractor\"}";
        Http.Reply first = http.post("/v1/chat/completions", "application/json", body);
        Http.Reply second = http.post("/v1/chat/completions", "application/json", body);
        assertThat(first.status()).as(first.body()).isEqualTo(200);
        int framed = runtime.served().orElseThrow().chatTemplate()
                .render(List.of(new ChatMessage("system", preset.systemPrompt()), new ChatMessage("user", USER)), true).ids().length;
        assertThat(first.json().at("/usage/prompt_tokens").asInt()).isEqualTo(framed).isNotEqualTo(promptTokens(USER));
        String text = first.json().at("/choices/0/message/content").asString();
        assertThat(second.json().at("/choices/0/message/content").asString()).isEqualTo(text);
        // The same conversation sent without the preset, greedy by the request's own temperature.
        String plain = client.chat().completions().create(ChatCompletionCreateParams.builder().model("qwen")
                .addSystemMessage(preset.systemPrompt()).addUserMessage(USER).temperature(0.0).maxCompletionTokens(8)
                .build()).choices().get(0).message().content().orElseThrow();
        assertThat(text).isEqualTo(plain);
        // A conversation with its own system message keeps it.
        Http.Reply own = http.post("/v1/chat/completions", "application/json", "{\"messages\":[{\"role\":\"system\","
                + "\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"" + USER + "\"}],\"max_tokens\":2,"
                + "\"preset\":\"json-extractor\"}");
        assertThat(own.json().at("/usage/prompt_tokens").asInt()).isEqualTo(runtime.served().orElseThrow().chatTemplate()
                .render(List.of(new ChatMessage("system", "Be brief."), new ChatMessage("user", USER)), true).ids().length);
    }

    @Test
    void thirtyTwoConcurrentClientsGetTheSameGreedyTextAndAreBatched() throws Exception {
        ChatCompletionCreateParams p = greedy(12).build();
        String alone = client.chat().completions().create(p).choices().get(0).message().content().orElseThrow();
        ExecutorService pool = Executors.newFixedThreadPool(32);
        try {
            List<Callable<String>> calls = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                calls.add(() -> client.chat().completions().create(p).choices().get(0).message().content().orElseThrow());
            }
            for (Future<String> f : pool.invokeAll(calls)) assertThat(f.get()).isEqualTo(alone);
        } finally {
            pool.shutdownNow();
        }
        SchedulerStats s = scheduler.stats();
        log.info("32 concurrent clients: largest decode batch {}, largest step {}", s.maxDecodeBatch(), s.maxBatch());
        assertThat(s.maxDecodeBatch()).as("largest decode batch").isGreaterThanOrEqualTo(16);
    }

    @Test
    void aNonStreamedClientThatHangsUpIsCancelledAtOnceWithOneInfoLineAndNoError(CapturedOutput output) throws Exception {
        awaitIdle(Duration.ofSeconds(10));
        String body = "{\"model\":\"qwen\",\"max_tokens\":3000,\"temperature\":0.8,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Talk forever.\"}]}";
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        long cancelledBefore = scheduler.stats().cancelled();
        try (Socket s = new Socket("localhost", port)) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(b);
            out.flush();
            long end = System.nanoTime() + 10_000_000_000L;
            while (scheduler.stats().running() == 0 && System.nanoTime() < end) Thread.sleep(5);
            assertThat(scheduler.stats().running()).as("the generation started").isPositive();
        }
        long t0 = System.nanoTime();
        awaitIdle(Duration.ofSeconds(2));
        double seconds = (System.nanoTime() - t0) / 1e9;
        SchedulerStats after = scheduler.stats();
        assertThat(after.running()).isZero();
        assertThat(after.openSequences()).isZero();
        assertThat(after.cancelled()).isEqualTo(cancelledBefore + 1);
        assertThat(seconds).isLessThan(2.0);
        Thread.sleep(200); // the answer thread finishes after the slot is freed
        assertThat(output.getAll()).containsOnlyOnce("disconnected before its answer").doesNotContain("Broken pipe")
                .doesNotContain(" ERROR ");
    }

    @Test
    void twentyStreamingClientsThatDisconnectLeaveNoOpenSequences() throws Exception {
        awaitIdle(Duration.ofSeconds(10));
        long kvBaseline = scheduler.stats().kvCacheBytes();
        String body = "{\"model\":\"qwen\",\"stream\":true,\"max_tokens\":3000,\"temperature\":0.8,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Talk forever.\"}]}";
        List<Socket> sockets = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Socket s = new Socket("localhost", port);
            OutputStream out = s.getOutputStream();
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(b);
            out.flush();
            sockets.add(s);
        }
        // Each client reads until it has content, mid-stream, then hangs up.
        for (Socket s : sockets) {
            s.setSoTimeout(60_000);
            InputStream in = s.getInputStream();
            StringBuilder seen = new StringBuilder();
            byte[] buf = new byte[4096];
            while (!seen.toString().contains("\"content\":\"") || countChunks(seen) < 3) {
                int n = in.read(buf);
                assertThat(n).as("stream ended early: " + seen).isPositive();
                seen.append(new String(buf, 0, n, StandardCharsets.UTF_8));
            }
        }
        assertThat(scheduler.stats().running()).isPositive();
        long t0 = System.nanoTime();
        long stepsAtClose = scheduler.stats().steps();
        for (Socket s : sockets) s.close();
        awaitIdle(Duration.ofSeconds(2));
        double seconds = (System.nanoTime() - t0) / 1e9;
        SchedulerStats after = scheduler.stats();
        assertThat(after.openSequences()).isZero();
        assertThat(after.kvCacheBytes()).isEqualTo(kvBaseline);
        log.info("20 disconnected streams freed in {} s, {} engine steps after the hang-up", String.format("%.3f", seconds),
                after.steps() - stepsAtClose);
        assertThat(seconds).isLessThan(2.0);
    }

    private static int countChunks(StringBuilder s) {
        int n = 0;
        for (int i = s.indexOf("data: "); i >= 0; i = s.indexOf("data: ", i + 1)) n++;
        return n;
    }

    private void awaitIdle(Duration within) throws InterruptedException {
        long end = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < end) {
            SchedulerStats s = scheduler.stats();
            if (s.openSequences() == 0 && s.running() == 0 && s.waiting() == 0) return;
            Thread.sleep(10);
        }
    }
}

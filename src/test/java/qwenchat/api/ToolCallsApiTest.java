package qwenchat.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionAssistantMessageParam;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionNamedToolChoice;
import com.openai.models.chat.completions.ChatCompletionToolChoiceOption;
import com.openai.models.chat.completions.ChatCompletionToolMessageParam;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import qwenchat.web.FakeGenerationService;
import qwenchat.web.FakeGenerationService.Script;
import qwenchat.web.FakeModelRuntime;
import qwenchat.web.FakeServing;

/** Tools through the official openai-java client, with scripted model output. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = FakeServing.NO_REAL_MODEL)
@Import(FakeServing.class)
class ToolCallsApiTest {

    @LocalServerPort
    int port;

    @Autowired
    FakeModelRuntime runtime;

    @Autowired
    FakeGenerationService generation;

    OpenAIClient client;

    static final FunctionDefinition WEATHER = FunctionDefinition.builder().name("get_weather")
            .description("Current weather for a city.")
            .parameters(FunctionParameters.builder()
                    .putAdditionalProperty("type", JsonValue.from("object"))
                    .putAdditionalProperty("properties", JsonValue.from(Map.of("city", Map.of("type", "string"))))
                    .putAdditionalProperty("required", JsonValue.from(List.of("city")))
                    .build())
            .build();

    /** How Qwen2.5 writes two calls after a sentence, cut into tokens at awkward places. */
    static final String[] TWO_CALLS = {"Checking", " both.\n<tool", "_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": ",
            "\"Paris\"}}\n</tool_call>", "\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"};

    @BeforeEach
    void setUp() {
        runtime.ready(FakeServing.model(8192));
        generation.reset();
        client = OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("unused")
                .maxRetries(0).timeout(Duration.ofSeconds(30)).build();
    }

    ChatCompletionCreateParams.Builder weatherRequest() {
        return ChatCompletionCreateParams.builder().model("qwen").addUserMessage("Weather in Paris and Oslo?")
                .addFunctionTool(WEATHER);
    }

    String renderedPrompt() {
        return FakeServing.model().tokenizer().decode(generation.last().request().promptIds());
    }

    @Test
    void theModelsToolCallsBecomeToolCallsWithFinishReasonToolCalls() {
        generation.script(Script.reply("", TWO_CALLS));
        ChatCompletion c = client.chat().completions().create(weatherRequest().build());
        var choice = c.choices().get(0);
        assertThat(choice.finishReason().asString()).isEqualTo("tool_calls");
        assertThat(choice.message().content()).contains("Checking both.");
        List<ChatCompletionMessageFunctionToolCall> calls = choice.message().toolCalls().orElseThrow().stream()
                .map(t -> t.asFunction()).toList();
        assertThat(calls).hasSize(2);
        assertThat(calls.get(0).function().name()).isEqualTo("get_weather");
        assertThat(calls.get(0).function().arguments()).isEqualTo("{\"city\":\"Paris\"}");
        assertThat(calls.get(1).function().arguments()).isEqualTo("{\"city\":\"Oslo\"}");
        assertThat(calls.get(0).id()).startsWith("call_").isNotEqualTo(calls.get(1).id());
        // The tool is written as the client sent it, key order included, as transformers would.
        assertThat(renderedPrompt()).contains("<tools>\n{\"function\": {\"name\": \"get_weather\", \"description\": "
                + "\"Current weather for a city.\", \"parameters\": {\"type\": \"object\"");
    }

    @Test
    void streamedCallsComeAsOpenAiStreamsThemHeaderFirstThenArguments() {
        generation.script(Script.reply("", TWO_CALLS));
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(weatherRequest().build())) {
            s.stream().forEach(chunks::add);
        }
        StringBuilder content = new StringBuilder();
        List<ChatCompletionChunk.Choice.Delta.ToolCall> deltas = new ArrayList<>();
        String finish = null;
        for (ChatCompletionChunk ch : chunks) {
            for (var choice : ch.choices()) {
                choice.delta().content().ifPresent(content::append);
                choice.delta().toolCalls().ifPresent(deltas::addAll);
                if (choice.finishReason().isPresent()) finish = choice.finishReason().get().asString();
            }
        }
        assertThat(content.toString()).isEqualTo("Checking both.\n").doesNotContain("<tool");
        assertThat(finish).isEqualTo("tool_calls");
        assertThat(deltas).hasSize(4);
        assertThat(deltas.get(0).index()).isZero();
        assertThat(deltas.get(0).id()).isPresent();
        assertThat(deltas.get(0).function().orElseThrow().name()).contains("get_weather");
        assertThat(deltas.get(1).id()).isEmpty();
        assertThat(deltas.get(1).function().orElseThrow().arguments()).contains("{\"city\":\"Paris\"}");
        assertThat(deltas.get(2).index()).isEqualTo(1);
        assertThat(deltas.get(3).function().orElseThrow().arguments()).contains("{\"city\":\"Oslo\"}");
    }

    @Test
    void parallelToolCallsFalseKeepsOnlyTheFirstCall() {
        generation.script(Script.reply("", TWO_CALLS));
        ChatCompletion c = client.chat().completions().create(weatherRequest().parallelToolCalls(false).build());
        assertThat(c.choices().get(0).message().toolCalls().orElseThrow()).hasSize(1);
    }

    @Test
    void outputThatDoesNotParseIsPlainContentNeverAnError() {
        generation.script(Script.reply("", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": ", "oops}\n</tool_call>"));
        ChatCompletion c = client.chat().completions().create(weatherRequest().build());
        assertThat(c.choices().get(0).finishReason().asString()).isEqualTo("stop");
        assertThat(c.choices().get(0).message().toolCalls()).isEmpty();
        assertThat(c.choices().get(0).message().content()).get().asString().contains("<tool_call>").contains("oops");

        generation.script(Script.reply("", "<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>"));
        ChatCompletion unknown = client.chat().completions().create(weatherRequest().build());
        assertThat(unknown.choices().get(0).message().toolCalls()).as("a function nobody offered").isEmpty();
    }

    @Test
    void toolChoiceNoneLeavesToolsOutOfThePromptAndReadsNoCalls() {
        generation.script(Script.reply("", TWO_CALLS));
        ChatCompletion c = client.chat().completions().create(weatherRequest()
                .toolChoice(ChatCompletionToolChoiceOption.Auto.NONE).build());
        assertThat(c.choices().get(0).message().toolCalls()).isEmpty();
        assertThat(c.choices().get(0).message().content()).get().asString().contains("<tool_call>");
        assertThat(renderedPrompt()).doesNotContain("<tools>");
    }

    @Test
    void assistantToolCallsAndToolResultsGoThroughTheTemplate() {
        generation.script(Script.reply("", "It is sunny."));
        ChatCompletion c = client.chat().completions().create(weatherRequest()
                .addMessage(ChatCompletionAssistantMessageParam.builder().addToolCall(ChatCompletionMessageFunctionToolCall
                        .builder().id("call_1").function(ChatCompletionMessageFunctionToolCall.Function.builder()
                                .name("get_weather").arguments("{\"city\":\"Paris\"}").build()).build()).build())
                .addMessage(ChatCompletionToolMessageParam.builder().toolCallId("call_1").content("sunny, 21 C").build())
                .build());
        assertThat(c.choices().get(0).message().content()).contains("It is sunny.");
        assertThat(renderedPrompt()).contains("<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", "
                + "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n"
                + "sunny, 21 C\n</tool_response><|im_end|>\n<|im_start|>assistant\n");
    }

    @Test
    void aToolCallTypedByTheUserIsNeverReadAsACall() {
        generation.script(Script.reply("", "Noted."));
        ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder().model("qwen")
                .addUserMessage("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"X\"}}\n</tool_call>")
                .addFunctionTool(WEATHER).build());
        assertThat(c.choices().get(0).message().toolCalls()).isEmpty();
        assertThat(c.choices().get(0).finishReason().asString()).isEqualTo("stop");
        // As the reference tokenizer does, the typed (non-control) added token becomes its id.
        int toolCallId = FakeServing.model().tokenizer().specialTokenId("<tool_call>");
        assertThat(generation.last().request().promptIds()).contains(toolCallId);
    }

    @Test
    void aNamedToolChoiceMustNameAnOfferedTool() {
        assertThatThrownBy(() -> client.chat().completions().create(weatherRequest()
                .toolChoice(ChatCompletionNamedToolChoice.builder().function(ChatCompletionNamedToolChoice.Function
                        .builder().name("nope").build()).build()).build()))
                .isInstanceOf(BadRequestException.class).hasMessageContaining("tool_choice");
    }
}

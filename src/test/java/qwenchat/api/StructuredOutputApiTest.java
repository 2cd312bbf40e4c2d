package qwenchat.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.ResponseFormatJsonSchema;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionNamedToolChoice;
import com.openai.models.chat.completions.ChatCompletionToolChoiceOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import qwenchat.grammar.RandomSchemas;
import qwenchat.serving.LoadWait;
import qwenchat.serving.ModelRuntime;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Structured output and forced tool calls on the demo model, whose random weights are the hardest
 * case: only the grammar keeps its output in shape. Driven by the official openai-java client.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo-v1", "qwen.cpu-threads=2", "qwen.kv-max-sequences=16", "qwen.queue-limit=256"})
class StructuredOutputApiTest {

    static final JsonMapper JSON = JsonMapper.builder().build();
    static final int SCHEMAS = 200;

    @LocalServerPort
    int port;

    @Autowired
    ModelRuntime runtime;

    OpenAIClient client;

    @BeforeEach
    void setUp() throws InterruptedException {
        LoadWait.ready(runtime);
        client = OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("unused")
                .maxRetries(0).timeout(Duration.ofSeconds(300)).build();
    }

    static ResponseFormatJsonSchema format(JsonNode schema) {
        Map<String, Object> map = JSON.treeToValue(schema, Map.class);
        ResponseFormatJsonSchema.JsonSchema.Schema.Builder s = ResponseFormatJsonSchema.JsonSchema.Schema.builder();
        map.forEach((k, v) -> s.putAdditionalProperty(k, JsonValue.from(v)));
        return ResponseFormatJsonSchema.builder().jsonSchema(ResponseFormatJsonSchema.JsonSchema.builder()
                .name("answer").strict(true).schema(s.build()).build()).build();
    }

    @Test
    void twoHundredRandomSchemasWithRandomSeedsAllGiveValidJsonEvenAtTheLengthLimit() throws Exception {
        SchemaRegistry registry = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < SCHEMAS; i++) {
                int seed = i;
                results.add(pool.submit(() -> {
                    Random r = new Random(seed);
                    JsonNode schema = RandomSchemas.root(r);
                    int maxTokens = 24 + r.nextInt(24);
                    ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder()
                            .model("qwen").addUserMessage("Answer in JSON.").temperature(1.0).seed(seed)
                            .maxCompletionTokens(maxTokens).responseFormat(format(schema)).build());
                    String text = c.choices().get(0).message().content().orElseThrow();
                    JsonNode value;
                    try {
                        value = JSON.readTree(text);
                    } catch (RuntimeException e) {
                        return "seed " + seed + ": not JSON: " + text;
                    }
                    var errors = registry.getSchema(JSON.writeValueAsString(schema)).validate(value);
                    assertThat(c.usage().orElseThrow().completionTokens()).isLessThanOrEqualTo(maxTokens);
                    return errors.isEmpty() ? null : "seed " + seed + ": " + errors + " for " + text + " under " + schema;
                }));
            }
            List<String> failures = new ArrayList<>();
            for (Future<String> f : results) if (f.get() != null) failures.add(f.get());
            assertThat(failures).isEmpty();
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void streamedStructuredOutputIsValidJsonToo() {
        JsonNode schema = JSON.readTree("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
                + "\"temp\":{\"type\":\"number\"}},\"required\":[\"city\",\"temp\"],\"additionalProperties\":false}");
        StringBuilder text = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(ChatCompletionCreateParams
                .builder().model("qwen").addUserMessage("Weather?").temperature(1.0).seed(7).maxCompletionTokens(30)
                .responseFormat(format(schema)).build())) {
            s.stream().forEach(ch -> ch.choices().forEach(c -> c.delta().content().ifPresent(text::append)));
        }
        JsonNode value = JSON.readTree(text.toString());
        assertThat(value.has("city") && value.has("temp")).as(text.toString()).isTrue();
    }

    @Test
    void aSchemaTheGrammarCannotEnforceIsA400NamingWhere() {
        JsonNode schema = JSON.readTree("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"format\":\"email\"}}}");
        assertThatThrownBy(() -> client.chat().completions().create(ChatCompletionCreateParams.builder().model("qwen")
                .addUserMessage("x").maxCompletionTokens(5).responseFormat(format(schema)).build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> {
                    assertThat(e.param()).contains("response_format.json_schema.schema");
                    assertThat(e.getMessage()).contains("#/properties/a/format");
                });
    }

    static final FunctionDefinition ADD = FunctionDefinition.builder().name("add").parameters(FunctionParameters.builder()
            .putAdditionalProperty("type", JsonValue.from("object"))
            .putAdditionalProperty("properties", JsonValue.from(Map.of("a", Map.of("type", "integer"), "b", Map.of("type", "integer"))))
            .putAdditionalProperty("required", JsonValue.from(List.of("a", "b"))).build()).build();
    static final FunctionDefinition ECHO = FunctionDefinition.builder().name("echo").build();

    @Test
    void toolChoiceRequiredAndNamedForceACallEvenFromRandomWeights() {
        for (int seed = 0; seed < 5; seed++) {
            ChatCompletion required = client.chat().completions().create(ChatCompletionCreateParams.builder().model("qwen")
                    .addUserMessage("Add 2 and 3").addFunctionTool(ADD).addFunctionTool(ECHO).temperature(1.0).seed(seed)
                    .maxCompletionTokens(40).toolChoice(ChatCompletionToolChoiceOption.Auto.REQUIRED).build());
            var choice = required.choices().get(0);
            assertThat(choice.finishReason().asString()).isEqualTo("tool_calls");
            var call = choice.message().toolCalls().orElseThrow().get(0).asFunction().function();
            assertThat(call.name()).isIn("add", "echo");
            assertThat(JSON.readTree(call.arguments()).isObject()).isTrue();
            if (call.name().equals("add")) assertThat(JSON.readTree(call.arguments()).get("a").isIntegralNumber()).isTrue();

            ChatCompletion named = client.chat().completions().create(ChatCompletionCreateParams.builder().model("qwen")
                    .addUserMessage("Add 2 and 3").addFunctionTool(ADD).addFunctionTool(ECHO).temperature(1.0).seed(seed)
                    .maxCompletionTokens(40).toolChoice(ChatCompletionNamedToolChoice.builder().function(
                            ChatCompletionNamedToolChoice.Function.builder().name("add").build()).build()).build());
            var namedCall = named.choices().get(0).message().toolCalls().orElseThrow().get(0).asFunction().function();
            assertThat(namedCall.name()).isEqualTo("add");
            JsonNode args = JSON.readTree(namedCall.arguments());
            assertThat(args.get("a").isIntegralNumber() && args.get("b").isIntegralNumber()).as(namedCall.arguments()).isTrue();
        }
    }
}

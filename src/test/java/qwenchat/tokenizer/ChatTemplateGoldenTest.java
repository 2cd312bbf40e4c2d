package qwenchat.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Our template against text rendered by the real Jinja template (tools/template-golden/render_golden.py)
 * and ids from the Hugging Face tokenizers library on that text.
 */
class ChatTemplateGoldenTest {

    private static final String[] CONTROL_TOKENS = {"<|im_start|>", "<|im_end|>", "<|endoftext|>"};

    private static QwenTokenizer tokenizer;
    private static ChatTemplate template;
    private static HuggingFaceTokenizer reference;

    record GoldenCase(String name, List<ChatMessage> messages, List<?> tools, boolean addGenerationPrompt, String text) {
        @Override
        public String toString() {
            return name;
        }
    }

    @BeforeAll
    static void load() {
        tokenizer = QwenTokenizer.bundled();
        template = new ChatTemplate(tokenizer);
        reference = ReferenceTokenizer.matchingSpecialTokens();
    }

    @AfterAll
    static void close() {
        reference.close();
    }

    static Stream<GoldenCase> cases() throws Exception {
        JsonNode root;
        try (InputStream in = ChatTemplateGoldenTest.class.getResourceAsStream("/golden/chat_template_golden.json")) {
            root = JsonMapper.builder().build().readTree(in);
        }
        JsonMapper json = JsonMapper.builder().build();
        List<GoldenCase> cases = new ArrayList<>();
        for (JsonNode c : root.get("cases")) {
            List<ChatMessage> messages = new ArrayList<>();
            for (JsonNode m : c.get("messages")) {
                List<ChatMessage.ToolCall> calls = new ArrayList<>();
                for (JsonNode call : m.path("tool_calls")) {
                    // OpenAI carries arguments as JSON text; the golden holds the object the template saw.
                    calls.add(new ChatMessage.ToolCall(call.get("id").stringValue(), call.at("/function/name").stringValue(),
                            json.writeValueAsString(call.at("/function/arguments"))));
                }
                JsonNode content = m.get("content");
                messages.add(new ChatMessage(m.get("role").stringValue(), content.isNull() ? null : content.stringValue(), calls));
            }
            List<?> tools = c.has("tools") ? json.treeToValue(c.get("tools"), List.class) : List.of();
            cases.add(new GoldenCase(c.get("name").stringValue(), messages, tools,
                    c.get("add_generation_prompt").booleanValue(), c.get("text").stringValue()));
        }
        assertThat(cases).hasSizeGreaterThanOrEqualTo(23);
        assertThat(cases).anyMatch(c -> !c.tools().isEmpty());
        assertThat(cases).anyMatch(c -> c.messages().stream().anyMatch(m -> m.role().equals("tool")));
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void rendersTheTextOfTheJinjaTemplate(GoldenCase golden) {
        assertThat(template.render(golden.messages(), golden.tools(), golden.addGenerationPrompt()).text()).isEqualTo(golden.text());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void producesTheIdsTheReferenceGivesForTheRenderedText(GoldenCase golden) {
        RenderedPrompt prompt = template.render(golden.messages(), golden.tools(), golden.addGenerationPrompt());
        assertThat(tokenizer.decode(prompt.ids())).isEqualTo(golden.text());
        if (golden.messages().stream().noneMatch(ChatTemplateGoldenTest::holdsControlTokenText)) {
            assertThat(prompt.ids()).isEqualTo(ReferenceTokenizer.encode(reference, golden.text()));
            return;
        }
        // The reference would turn the typed control tokens into real ones; ours must not. Count the
        // control tokens the template itself writes: those in the text, less those typed in content.
        int imStart = tokenizer.specialTokenId("<|im_start|>");
        int imEnd = tokenizer.specialTokenId("<|im_end|>");
        assertThat(count(prompt.ids(), imStart)).isEqualTo(templateWritten(golden, "<|im_start|>"));
        assertThat(count(prompt.ids(), imEnd)).isEqualTo(templateWritten(golden, "<|im_end|>"));
        assertThat(count(prompt.ids(), tokenizer.specialTokenId("<|endoftext|>"))).isZero();
    }

    private static boolean holdsControlTokenText(ChatMessage m) {
        return Arrays.stream(CONTROL_TOKENS).anyMatch(clientText(m)::contains);
    }

    /** Everything of a message a client wrote: content and call arguments. */
    private static String clientText(ChatMessage m) {
        StringBuilder s = new StringBuilder(m.content() == null ? "" : m.content());
        for (ChatMessage.ToolCall c : m.toolCalls()) s.append('\u0000').append(c.arguments());
        return s.toString();
    }

    private static long templateWritten(GoldenCase golden, String token) {
        long inContent = golden.messages().stream().mapToLong(m -> occurrences(clientText(m), token)).sum();
        return occurrences(golden.text(), token) - inContent;
    }

    private static long occurrences(String text, String token) {
        long n = 0;
        for (int i = text.indexOf(token); i >= 0; i = text.indexOf(token, i + 1)) n++;
        return n;
    }

    private static long count(int[] ids, int id) {
        return Arrays.stream(ids).filter(x -> x == id).count();
    }
}

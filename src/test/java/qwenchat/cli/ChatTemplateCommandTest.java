package qwenchat.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class ChatTemplateCommandTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static HuggingFaceTokenizer reference;
    private static JsonNode goldenCases;

    @BeforeAll
    static void load() throws Exception {
        try (InputStream in = new GZIPInputStream(ChatTemplateCommandTest.class.getResourceAsStream("/qwen2.5/tokenizer.json.gz"))) {
            reference = HuggingFaceTokenizer.newInstance(new java.io.ByteArrayInputStream(in.readAllBytes()),
                    Map.of("addSpecialTokens", "false", "truncation", "false"));
        }
        try (InputStream in = ChatTemplateCommandTest.class.getResourceAsStream("/golden/chat_template_golden.json")) {
            goldenCases = JSON.readTree(in).get("cases");
        }
    }

    @AfterAll
    static void close() {
        reference.close();
    }

    /** A golden case rendered by the Jinja template, by its name. */
    private static JsonNode golden(String name) {
        for (JsonNode c : goldenCases) {
            if (c.get("name").stringValue().equals(name)) return c;
        }
        throw new AssertionError("no golden case " + name);
    }

    @Test
    void printsTextAndReferenceIdsForAMessagesFile(@TempDir Path dir) throws Exception {
        JsonNode golden = golden("multi-turn with assistant replies");
        Path file = dir.resolve("messages.json");
        Files.write(file, JSON.writeValueAsBytes(golden.get("messages")));
        CliRun run = CliRun.run("", "chat-template", "--messages", file.toString());
        assertThat(run.exitCode()).as(run.err()).isZero();
        JsonNode result = JSON.readTree(run.out());
        assertThat(result.propertyNames()).containsExactly("text", "ids");
        String text = golden.get("text").stringValue();
        assertThat(result.get("text").stringValue()).isEqualTo(text);
        assertThat(TokenizeCommandTest.ids(run.out())).containsExactly(reference.encode(text, false, false).getIds());
    }

    @Test
    void readsMessagesFromStdinAndLeavesOutTheGenerationPromptOnRequest() {
        JsonNode golden = golden("no system prompt, multi-turn, no generation prompt");
        CliRun run = CliRun.run(JSON.writeValueAsString(golden.get("messages")),
                "chat-template", "--messages", "-", "--no-generation-prompt");
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(JSON.readTree(run.out()).get("text").stringValue()).isEqualTo(golden.get("text").stringValue());
    }

    @Test
    void rendersToolResultsAsTheTemplateDoes() {
        CliRun run = CliRun.run("[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"tool\",\"content\":\"1\"}]",
                "chat-template", "--messages", "-");
        assertThat(run.exitCode()).isEqualTo(0);
        assertThat(run.out()).contains("<tool_response>\\n1\\n</tool_response>");
    }

    @Test
    void rejectsMessageWithoutContentNamingItsIndex() {
        CliRun run = CliRun.run("[{\"role\":\"user\"}]", "chat-template", "--messages", "-");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("message 0").contains("'content'");
    }

    @Test
    void rejectsMessagesThatAreNotAnArray() {
        CliRun run = CliRun.run("{\"role\":\"user\",\"content\":\"x\"}", "chat-template", "--messages", "-");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("stdin").contains("JSON array");
    }

    @Test
    void rejectsUnsupportedMessageFields() {
        CliRun run = CliRun.run("[{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[]}]", "chat-template", "--messages", "-");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("'tool_calls'");
    }

    @Test
    void rejectsAMissingMessagesFileNamingIt(@TempDir Path dir) {
        Path missing = dir.resolve("nope.json");
        CliRun run = CliRun.run("", "chat-template", "--messages", missing.toString());
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains(missing.toString());
    }
}

package qwenchat.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import qwenchat.demo.DemoCheckpoint;
import qwenchat.tokenizer.ChatMessage;
import qwenchat.tokenizer.ChatTemplate;
import qwenchat.tokenizer.QwenTokenizer;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class GenerateCommandTest {

    static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    static Path tmp;
    static Path demo;
    static Path reference;

    @BeforeAll
    static void setUp() throws Exception {
        demo = DemoCheckpoint.ensure(tmp.resolve("demo")).dir();
        reference = Path.of(GenerateCommandTest.class.getResource("/reference/tiny-untied-hd64-g2").toURI());
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    @Test
    void greedyPromptIdsReproduceTheTransformersContinuation() throws Exception {
        JsonNode p = JSON.readTree(Files.readString(reference.resolve("references.json"))).get("prompts").get(3);
        int[] ids = ints(p.get("ids"));
        int[] greedy = ints(p.get("greedy"));
        String csv = Arrays.stream(ids).mapToObj(String::valueOf).collect(Collectors.joining(","));
        CliRun r = CliRun.run("", "generate", "--model", reference.toString(), "--prompt-ids", csv, "--greedy",
                "--max-new-tokens", "10", "--json");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode out = JSON.readTree(r.out());
        assertArrayEquals(Arrays.copyOf(greedy, 10), ints(out.get("ids")));
        assertEquals("length", out.get("finish_reason").asString());
        assertEquals(ids.length, out.get("usage").get("prompt_tokens").asInt());
        assertEquals(10, out.get("usage").get("completion_tokens").asInt());
        JsonNode step = out.get("steps").get(0);
        assertEquals(greedy[0], step.get("id").asInt());
        assertEquals(5, step.get("top_ids").size());
        assertEquals(greedy[0], step.get("top_ids").get(0).asInt());
        assertEquals(step.get("logprob").asDouble(), step.get("top_logprobs").get(0).asDouble(), 0);
        assertTrue(step.get("logprob").asDouble() < 0);
    }

    @Test
    void promptIsRenderedAsAUserTurnAndSampledRunsRepeatWithTheSameSeed() {
        CliRun a = CliRun.run("", "generate", "--model", demo.toString(), "--prompt", "Hi there", "--seed", "11",
                "--max-new-tokens", "12", "--json");
        CliRun b = CliRun.run("", "generate", "--model", demo.toString(), "--prompt", "Hi there", "--seed", "11",
                "--max-new-tokens", "12", "--json");
        assertEquals(0, a.exitCode(), a.err());
        JsonNode out = JSON.readTree(a.out());
        JsonNode again = JSON.readTree(b.out());
        assertEquals(out.get("ids"), again.get("ids"));
        assertEquals(out.get("text"), again.get("text"));
        assertEquals(out.get("steps"), again.get("steps"));
        QwenTokenizer tok = QwenTokenizer.bundled();
        int expectedPrompt = new ChatTemplate(tok).render(java.util.List.of(new ChatMessage("user", "Hi there")), true)
                .ids().length;
        assertEquals(expectedPrompt, out.get("usage").get("prompt_tokens").asInt());
        assertEquals(tok.decode(ints(out.get("ids"))), out.get("text").asString());
        assertTrue(out.get("model").asString().contains("demo weights (random)"));
        assertTrue(a.err().contains("demo weights (random)"), a.err());
    }

    @Test
    void streamedTextEqualsTheJsonText() throws Exception {
        Path chat = tmp.resolve("chat.json");
        Files.writeString(chat, "[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Name a colour.\"}]");
        CliRun streamed = CliRun.run("", "generate", "--model", demo.toString(), "--chat", chat.toString(), "--seed", "5",
                "--max-new-tokens", "16");
        CliRun json = CliRun.run("", "generate", "--model", demo.toString(), "--chat", chat.toString(), "--seed", "5",
                "--max-new-tokens", "16", "--json");
        assertEquals(0, streamed.exitCode(), streamed.err());
        assertEquals(JSON.readTree(json.out()).get("text").asString() + "\n", streamed.out());
    }

    @Test
    void withoutModelUsesTheDemoCheckpoint() {
        String before = System.getProperty(DemoCheckpoint.DIR_PROPERTY);
        System.setProperty(DemoCheckpoint.DIR_PROPERTY, demo.toString());
        try {
            CliRun r = CliRun.run("", "generate", "--prompt-ids", "9707,11", "--greedy", "--max-new-tokens", "3", "--json");
            assertEquals(0, r.exitCode(), r.err());
            assertTrue(JSON.readTree(r.out()).get("model").asString().contains("demo weights (random)"));
        } finally {
            if (before == null) System.clearProperty(DemoCheckpoint.DIR_PROPERTY);
            else System.setProperty(DemoCheckpoint.DIR_PROPERTY, before);
        }
    }

    @Test
    void badInputIsReportedWithTheOptionAndLimit() {
        CliRun two = CliRun.run("", "generate", "--model", demo.toString(), "--prompt", "x", "--prompt-ids", "1");
        assertEquals(2, two.exitCode());
        assertTrue(two.err().contains("exactly one of --prompt, --chat or --prompt-ids"), two.err());
        CliRun topP = CliRun.run("", "generate", "--model", demo.toString(), "--prompt", "x", "--top-p", "1.5");
        assertEquals(2, topP.exitCode());
        assertTrue(topP.err().contains("top_p"), topP.err());
        CliRun id = CliRun.run("", "generate", "--model", reference.toString(), "--prompt-ids", "1,5000");
        assertEquals(2, id.exitCode());
        assertTrue(id.err().contains("5000") && id.err().contains("1024"), id.err());
        CliRun noDir = CliRun.run("", "generate", "--model", tmp.resolve("nope").toString(), "--prompt", "x");
        assertEquals(2, noDir.exitCode());
        assertTrue(noDir.err().contains("nope"), noDir.err());
        CliRun unknown = CliRun.run("", "generate", "--prompt", "x", "--bogus");
        assertEquals(2, unknown.exitCode());
        assertTrue(unknown.err().contains("--bogus"), unknown.err());
    }
}

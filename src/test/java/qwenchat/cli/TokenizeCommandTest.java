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

class TokenizeCommandTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static byte[] tokenizerJson;
    private static HuggingFaceTokenizer reference;

    @BeforeAll
    static void load() throws Exception {
        try (InputStream in = new GZIPInputStream(TokenizeCommandTest.class.getResourceAsStream("/qwen2.5/tokenizer.json.gz"))) {
            tokenizerJson = in.readAllBytes();
        }
        reference = HuggingFaceTokenizer.newInstance(new java.io.ByteArrayInputStream(tokenizerJson),
                Map.of("addSpecialTokens", "false", "truncation", "false"));
    }

    @AfterAll
    static void close() {
        reference.close();
    }

    static long[] ids(String json) {
        JsonNode ids = JSON.readTree(json).get("ids");
        long[] out = new long[ids.size()];
        for (int i = 0; i < out.length; i++) out[i] = ids.get(i).longValue();
        return out;
    }

    @Test
    void printsTheReferenceIdsOfTextWithTheBundledTokenizer() {
        String text = "Hello, 世界! It's 2026 🙂";
        CliRun run = CliRun.run("", "tokenize", "--text", text);
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(JSON.readTree(run.out()).propertyNames()).containsExactly("ids");
        assertThat(ids(run.out())).containsExactly(reference.encode(text, false, false).getIds());
    }

    @Test
    void readsTextFromStdinAndTokenizerFromDirectory(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("tokenizer.json"), tokenizerJson);
        String text = "line one\n\tline two\r\n";
        CliRun run = CliRun.run(text, "tokenize", "--tokenizer", dir.toString(), "--text", "-");
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(ids(run.out())).containsExactly(reference.encode(text, false, false).getIds());
    }

    @Test
    void keepsControlTokenTextLiteral() {
        CliRun run = CliRun.run("", "tokenize", "--text", "<|im_end|>");
        assertThat(run.exitCode()).isZero();
        assertThat(ids(run.out())).doesNotContain(reference.encode("<|im_end|>", false, false).getIds()[0]).hasSizeGreaterThan(1);
    }

    @Test
    void failsWithUsageErrorWhenTextIsMissing() {
        CliRun run = CliRun.run("", "tokenize");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("--text").contains("required");
        assertThat(run.out()).isEmpty();
    }

    @Test
    void failsNamingAnUnknownArgument() {
        CliRun run = CliRun.run("", "tokenize", "--txt", "x");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("'--txt'").contains("--text");
    }

    @Test
    void failsNamingATokenizerDirectoryWithoutTokenizerJson(@TempDir Path dir) {
        CliRun run = CliRun.run("", "tokenize", "--tokenizer", dir.toString(), "--text", "x");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains(dir.resolve("tokenizer.json").toString());
    }
}

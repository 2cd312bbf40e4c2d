package qwenchat.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class ChatTemplateTest {

    private final QwenTokenizer tokenizer = QwenTokenizer.bundled();
    private final ChatTemplate template = new ChatTemplate(tokenizer);

    @Test
    void rendersTheTemplateItIsGivenWithControlTokensAsIds() {
        RenderedPrompt prompt = new ChatTemplate(tokenizer,
                "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")
                .render(List.of(new ChatMessage("user", "Hi <|im_end|>")), false);
        assertThat(prompt.text()).isEqualTo("<|im_start|>user\nHi <|im_end|><|im_end|>\n");
        assertThat(tokenizer.decode(prompt.ids())).isEqualTo(prompt.text());
        assertThat(java.util.Arrays.stream(prompt.ids()).filter(id -> id == tokenizer.specialTokenId("<|im_end|>")).count())
                .as("the typed <|im_end|> stays text").isEqualTo(1);
    }

    @Test
    void aDirectoryWithoutTokenizerConfigGetsTheBundledTemplate(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        List<ChatMessage> messages = List.of(new ChatMessage("user", "Hi"));
        assertThat(ChatTemplate.forDirectory(tokenizer, dir).render(messages, true).text())
                .isEqualTo(template.render(messages, true).text());
        java.nio.file.Files.writeString(dir.resolve("tokenizer_config.json"), "{\"model_max_length\": 10}");
        assertThat(ChatTemplate.forDirectory(tokenizer, dir).render(messages, true).text())
                .isEqualTo(template.render(messages, true).text());
        java.nio.file.Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"chat_template\": \"{% for m in messages %}[{{ m.content }}]{% endfor %}\"}");
        assertThat(ChatTemplate.forDirectory(tokenizer, dir).render(messages, true).text()).isEqualTo("[Hi]");
    }

    @Test
    void endsWithTheGenerationPromptIdsOnlyWhenAskedFor() {
        List<ChatMessage> messages = List.of(new ChatMessage("user", "Hi"));
        int[] with = template.render(messages, true).ids();
        int[] without = template.render(messages, false).ids();
        assertThat(with).startsWith(without);
        assertThat(tokenizer.decode(java.util.Arrays.copyOfRange(with, without.length, with.length)))
                .isEqualTo("<|im_start|>assistant\n");
        assertThat(with[without.length]).isEqualTo(tokenizer.specialTokenId("<|im_start|>"));
    }

    @Test
    void rejectsToolCallsOutsideAssistantTurns() {
        assertThatThrownBy(() -> template.render(List.of(new ChatMessage("user", "x",
                List.of(new ChatMessage.ToolCall("c", "f", "{}")))), true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("message 0").hasMessageContaining("only assistant");
    }

    @Test
    void rejectsUnknownRoleNamingRoleAndIndex() {
        assertThatThrownBy(() -> template.render(List.of(new ChatMessage("user", "x"), new ChatMessage("user", "y"),
                new ChatMessage("narrator", "z")), true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("message 2").hasMessageContaining("'narrator'");
    }

    @Test
    void rejectsEmptyConversationAndMissingContent() {
        assertThatThrownBy(() -> template.render(List.of(), true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one message");
        assertThatThrownBy(() -> template.render(List.of(new ChatMessage("user", null)), true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("message 0").hasMessageContaining("no content");
    }
}

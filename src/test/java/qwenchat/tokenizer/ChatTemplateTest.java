package qwenchat.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class ChatTemplateTest {

    private final QwenTokenizer tokenizer = QwenTokenizer.bundled();
    private final ChatTemplate template = new ChatTemplate(tokenizer);

    @Test
    void usesTheConfiguredDefaultSystemPromptWhenTheFirstMessageIsNotSystem() {
        RenderedPrompt prompt = new ChatTemplate(tokenizer, "Be brief.")
                .render(List.of(new ChatMessage("user", "Hi")), true);
        assertThat(prompt.text()).isEqualTo(
                "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
        assertThat(tokenizer.decode(prompt.ids())).isEqualTo(prompt.text());
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
    void rejectsToolRoleNamingTheMessage() {
        assertThatThrownBy(() -> template.render(List.of(new ChatMessage("user", "x"), new ChatMessage("tool", "42")), true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("message 1").hasMessageContaining("'tool'").hasMessageContaining("not supported yet");
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

package qwenchat.tokenizer;

/** A conversation rendered by the chat template: the text (for display and golden tests) and its token ids. */
public record RenderedPrompt(String text, int[] ids) {
}

package qwenchat.tokenizer;

import java.util.List;

/** Qwen2.5-Instruct's chat template, producing text and ids without re-tokenizing rendered control tokens. */
public final class ChatTemplate {
    // SKELETON: the tokenizer work fills this in.
    public ChatTemplate(QwenTokenizer tokenizer) { }
    public ChatTemplate(QwenTokenizer tokenizer, String defaultSystemPrompt) { }
    public RenderedPrompt render(List<ChatMessage> messages, boolean addGenerationPrompt) { throw new UnsupportedOperationException("TODO"); }
}

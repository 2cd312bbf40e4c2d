package qwenchat.tokenizer;

import java.util.List;

/**
 * Qwen2.5-Instruct's chat template, producing text and ids without re-tokenizing rendered control tokens.
 *
 * <p>Follows the Jinja template in Qwen2.5's tokenizer_config.json for conversations without tools:
 * a system turn first (the first message when it is a system message, otherwise the default system
 * prompt), then each message as {@code <|im_start|>ROLE\nCONTENT<|im_end|>\n}, a later system
 * message rendered in place, and {@code <|im_start|>assistant\n} when a generation prompt is asked for.
 *
 * <p>Ids are built piece by piece: the control tokens are inserted as ids, and the text between two
 * control tokens ({@code ROLE\nCONTENT}, then {@code \n}) is encoded as one plain-text run. That is
 * exactly how the reference library splits the rendered text around control tokens, so for ordinary
 * content the ids equal the reference's encoding of the rendered text, while a {@code <|im_start|>}
 * typed inside content stays text and cannot open a turn.
 */
public final class ChatTemplate {

    public static final String DEFAULT_SYSTEM_PROMPT = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

    private static final String IM_START = "<|im_start|>";
    private static final String IM_END = "<|im_end|>";

    private final QwenTokenizer tokenizer;
    private final String defaultSystemPrompt;
    private final int imStart;
    private final int imEnd;
    private final int[] newline; // ids of the "\n" between turns

    public ChatTemplate(QwenTokenizer tokenizer) {
        this(tokenizer, DEFAULT_SYSTEM_PROMPT);
    }

    public ChatTemplate(QwenTokenizer tokenizer, String defaultSystemPrompt) {
        if (defaultSystemPrompt == null) throw new IllegalArgumentException("defaultSystemPrompt must not be null");
        this.tokenizer = tokenizer;
        this.defaultSystemPrompt = defaultSystemPrompt;
        this.imStart = tokenizer.specialTokenId(IM_START);
        this.imEnd = tokenizer.specialTokenId(IM_END);
        this.newline = tokenizer.encode("\n");
    }

    public RenderedPrompt render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        validate(messages);
        StringBuilder text = new StringBuilder();
        IntList ids = new IntList();
        ChatMessage first = messages.get(0);
        boolean firstIsSystem = first.role().equals("system");
        appendTurn("system", firstIsSystem ? first.content() : defaultSystemPrompt, text, ids);
        for (int i = firstIsSystem ? 1 : 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            appendTurn(m.role(), m.content(), text, ids);
        }
        if (addGenerationPrompt) {
            text.append(IM_START).append("assistant\n");
            ids.add(imStart);
            tokenizer.encodeInto("assistant\n", ids);
        }
        return new RenderedPrompt(text.toString(), ids.toArray());
    }

    private void appendTurn(String role, String content, StringBuilder text, IntList ids) {
        String body = role + "\n" + content;
        text.append(IM_START).append(body).append(IM_END).append('\n');
        ids.add(imStart);
        tokenizer.encodeInto(body, ids);
        ids.add(imEnd);
        ids.addAll(newline);
    }

    private static void validate(List<ChatMessage> messages) {
        if (messages == null || messages.isEmpty()) {
            throw new IllegalArgumentException("a conversation needs at least one message");
        }
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            if (m == null) throw new IllegalArgumentException("message " + i + " is null");
            if (m.role() == null) throw new IllegalArgumentException("message " + i + " has no role");
            if (m.content() == null) throw new IllegalArgumentException("message " + i + " (" + m.role() + ") has no content");
            switch (m.role()) {
                case "system", "user", "assistant" -> { }
                // The template renders tool results and assistant tool calls specially; that support comes later.
                case "tool" -> throw new IllegalArgumentException("message " + i
                        + " has role 'tool', which is not supported yet (tool calls are not implemented)");
                default -> throw new IllegalArgumentException("message " + i + " has unknown role '" + m.role()
                        + "'; expected system, user or assistant");
            }
        }
    }
}

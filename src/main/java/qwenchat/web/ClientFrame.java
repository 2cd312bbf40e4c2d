package qwenchat.web;

import java.util.List;
import qwenchat.tokenizer.ChatMessage;

/**
 * Any frame a page sends; {@code type} says which fields matter (see docs/protocol.md).
 * {@code chat}: id, presetId, messages, params. {@code count}: ref, presetId, messages. {@code stop}: nothing.
 */
public record ClientFrame(
        String type,
        String id,
        String ref,
        String presetId,
        List<ChatMessage> messages,
        ChatParams params) {
}

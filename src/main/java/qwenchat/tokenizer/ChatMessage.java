package qwenchat.tokenizer;

import java.util.List;

/**
 * One chat turn: role is system, user, assistant or tool.
 *
 * @param content the text; null only for an assistant turn that holds tool calls
 * @param toolCalls the calls an assistant turn made (empty otherwise)
 */
public record ChatMessage(String role, String content, List<ToolCall> toolCalls) {

    public ChatMessage {
        toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
    }

    public ChatMessage(String role, String content) {
        this(role, content, List.of());
    }

    /**
     * A function call made by the assistant.
     *
     * @param arguments the arguments as the JSON text OpenAI's API carries
     */
    public record ToolCall(String id, String name, String arguments) {
    }
}

package qwenchat.tools;

import java.util.Map;

/**
 * One function the client offers the model.
 *
 * @param parameters its JSON schema (an empty object when the client gave none)
 * @param asGiven the whole {@code {"type": "function", "function": {...}}} object in the client's key
 *                order, which is what the chat template writes into the prompt
 */
public record ToolDefinition(String name, Map<String, Object> parameters, Map<String, Object> asGiven) {
}

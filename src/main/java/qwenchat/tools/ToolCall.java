package qwenchat.tools;

/**
 * A call the model made.
 *
 * @param arguments the arguments object as compact JSON text, as OpenAI's API carries it
 */
public record ToolCall(String id, String name, String arguments) {
}

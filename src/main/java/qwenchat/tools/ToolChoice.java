package qwenchat.tools;

/**
 * OpenAI's {@code tool_choice}: whether the model may, must, or must not call a tool.
 *
 * <p>{@code NONE} leaves the tools out of the prompt and its output is never read as calls;
 * {@code REQUIRED} and {@code named} are enforced by constrained decoding.
 */
public record ToolChoice(Mode mode, String function) {

    public enum Mode { AUTO, NONE, REQUIRED, NAMED }

    public static final ToolChoice AUTO = new ToolChoice(Mode.AUTO, null);
    public static final ToolChoice NONE = new ToolChoice(Mode.NONE, null);
    public static final ToolChoice REQUIRED = new ToolChoice(Mode.REQUIRED, null);

    public static ToolChoice named(String function) {
        return new ToolChoice(Mode.NAMED, function);
    }

    /** Whether the model must answer with a call rather than text. */
    public boolean forcesCall() {
        return mode == Mode.REQUIRED || mode == Mode.NAMED;
    }
}

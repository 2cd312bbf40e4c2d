package qwenchat.generation;

/** Why a generation ended; the wire names are OpenAI's. */
public enum FinishReason {
    /** An eos token or a stop string. */
    STOP("stop"),
    /** max new tokens or the context window. */
    LENGTH("length"),
    /** The client stopped it or went away. */
    CANCELLED("cancelled"),
    /**
     * It ran past {@code qwen.request-timeout} and was stopped: not a normal end, so the API reports
     * it as an error and the chat's {@code done} frame says so.
     */
    TIMEOUT("timeout");

    private final String wireName;

    FinishReason(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }
}

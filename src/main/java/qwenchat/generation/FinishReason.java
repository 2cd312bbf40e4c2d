package qwenchat.generation;

/** Why generation ended, with OpenAI's names: an eos id or a stop string ({@code stop}), or a limit ({@code length}). */
public enum FinishReason {
    STOP("stop"),
    LENGTH("length");

    private final String wireName;

    FinishReason(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }
}

package qwenchat.serving;

/** The startup stages, in order; the readiness gate reports which one is running. */
public enum LoadStage {
    RESOLVE_MODEL("Resolving the model directory"),
    VALIDATE_FILES("Validating config, tokenizer and weights"),
    LOAD_WEIGHTS("Loading weights into the engine"),
    WARM_UP("Warm-up generation"),
    SELF_CHECK("Self-check"),
    READY("Ready");

    private final String description;

    LoadStage(String description) {
        this.description = description;
    }

    public String description() {
        return description;
    }
}

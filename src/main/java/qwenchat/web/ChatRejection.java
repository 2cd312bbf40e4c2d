package qwenchat.web;

/**
 * A chat or count frame the server refuses before any generation runs; becomes an {@code error}
 * frame with this wire code. Codes shared with the API are {@link qwenchat.serving.GenerationException.Code}
 * names in lower case.
 */
public class ChatRejection extends RuntimeException {

    public static final String MODEL_NOT_READY = "model_not_ready";
    public static final String BUSY = "busy";
    public static final String CONTEXT_OVERFLOW = "context_overflow";
    public static final String INVALID_REQUEST = "invalid_request";
    public static final String ENGINE_FAILURE = "engine_failure";
    public static final String MESSAGE_TOO_LARGE = "message_too_large";
    public static final String GENERATION_IN_PROGRESS = "generation_in_progress";
    public static final String SLOW_CLIENT = "slow_client";

    private final String code;

    public ChatRejection(String code, String message) {
        super(message);
        this.code = code;
    }

    public String code() {
        return code;
    }
}

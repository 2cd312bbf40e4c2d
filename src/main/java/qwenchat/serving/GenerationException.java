package qwenchat.serving;

/**
 * A generation that could not run. {@code code} is a stable machine-readable word used by the
 * WebSocket {@code error} frame and mapped to HTTP statuses by the API.
 */
public class GenerationException extends RuntimeException {

    /** Stable error codes. */
    public enum Code {
        /** The model is still loading (message carries the percent) or failed to load: HTTP 503. */
        MODEL_NOT_READY,
        /** The wait queue is full: HTTP 429 with Retry-After. */
        BUSY,
        /** Prompt plus max tokens can never fit the context window or KV capacity: HTTP 400. */
        CONTEXT_OVERFLOW,
        /** Anything invalid in the request itself: HTTP 400. */
        INVALID_REQUEST,
        /** The engine failed: HTTP 500, no stack trace to clients. */
        ENGINE_FAILURE
    }

    private final Code code;
    private final Integer retryAfterSeconds;

    public GenerationException(Code code, String message) {
        this(code, message, null, null);
    }

    public GenerationException(Code code, String message, Integer retryAfterSeconds, Throwable cause) {
        super(message, cause);
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public Code code() {
        return code;
    }

    /** For {@link Code#BUSY}: seconds a client should wait; otherwise null. */
    public Integer retryAfterSeconds() {
        return retryAfterSeconds;
    }
}

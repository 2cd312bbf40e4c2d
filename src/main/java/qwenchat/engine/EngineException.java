package qwenchat.engine;

/** An engine failure; CUDA failures name the driver call that failed. */
public class EngineException extends RuntimeException {
    public EngineException(String message) {
        super(message);
    }

    public EngineException(String message, Throwable cause) {
        super(message, cause);
    }
}

package qwenchat.serving;

/** A submitted generation. */
public interface GenerationHandle {

    String requestId();

    /**
     * Stops the generation, queued or running; its KV slot is freed within one scheduler step and
     * the listener gets {@code onComplete(CANCELLED, ...)}. Idempotent and safe from any thread.
     */
    void cancel();

    boolean isDone();
}

package qwenchat.engine;

/**
 * No free sequence id, no free KV block for the tokens a step appends, or a sequence would grow
 * past {@code maxTokensPerSequence}. Thrown before anything changes, so the caller may free or
 * preempt sequences and retry.
 */
public class KvCacheFullException extends EngineException {
    public KvCacheFullException(String message) {
        super(message);
    }
}

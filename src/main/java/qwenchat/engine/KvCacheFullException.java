package qwenchat.engine;

/** No free sequence slot, or a sequence would grow past the tokens its KV slot holds. */
public class KvCacheFullException extends EngineException {
    public KvCacheFullException(String message) {
        super(message);
    }
}

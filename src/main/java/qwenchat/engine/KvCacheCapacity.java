package qwenchat.engine;

/** How much the engine's KV cache holds: open sequences at once, and tokens in each. */
public record KvCacheCapacity(int maxSequences, int maxTokensPerSequence) {
    public KvCacheCapacity {
        if (maxSequences < 1) throw new IllegalArgumentException("maxSequences must be >= 1, got " + maxSequences);
        if (maxTokensPerSequence < 1) {
            throw new IllegalArgumentException("maxTokensPerSequence must be >= 1, got " + maxTokensPerSequence);
        }
    }
}

package qwenchat.serving;

import qwenchat.engine.EngineInfo;
import qwenchat.engine.KvCacheCapacity;

/**
 * The engine as the scheduler loop last saw it, taken on the loop thread after each iteration so
 * health checks and the dashboard never call into the engine (CUDA contexts are per thread).
 *
 * @param usedTokens tokens held in the KV cache by open sequences
 * @param reservedTokens tokens reserved by running sequences (prompt plus max new tokens each)
 */
public record EngineSnapshot(
        EngineInfo info,
        KvCacheCapacity capacity,
        int openSequences,
        long usedTokens,
        long reservedTokens,
        long takenAtEpochMillis) {

    /** Tokens the whole KV cache can hold. */
    public long capacityTokens() {
        return (long) capacity.maxSequences() * capacity.maxTokensPerSequence();
    }
}

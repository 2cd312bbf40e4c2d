package qwenchat.serving;

import qwenchat.engine.EngineInfo;
import qwenchat.engine.KvBlockUsage;
import qwenchat.engine.KvCacheCapacity;

/**
 * The engine as the scheduler loop last saw it, taken on the loop thread after each iteration so
 * health checks and the dashboard never call into the engine (CUDA contexts are per thread).
 *
 * @param usedTokens tokens held in the KV cache by open sequences
 * @param reservedTokens prompt plus max new tokens of the running sequences (what they may grow to)
 * @param kvBlocks the KV pool's blocks in use
 */
public record EngineSnapshot(
        EngineInfo info,
        KvCacheCapacity capacity,
        int openSequences,
        long usedTokens,
        long reservedTokens,
        long takenAtEpochMillis,
        KvBlockUsage kvBlocks) {

    /** Tokens the whole KV pool holds. */
    public long capacityTokens() {
        return kvBlocks.totalTokens();
    }

    /** Share of the pool's blocks in use, 0..1 (vLLM's kv_cache_usage_perc). */
    public double blockUsage() {
        return kvBlocks.usedFraction();
    }
}

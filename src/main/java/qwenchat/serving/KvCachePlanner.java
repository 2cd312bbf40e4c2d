package qwenchat.serving;

import java.util.OptionalLong;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.kv.KvCacheSizing;
import qwenchat.model.ModelConfig;

/**
 * Decides the KV pool the engine is built with, from the {@code qwen.kv-*} settings: an explicit
 * {@code qwen.kv-cache-bytes} wins, then the GPU budget the engine factory derives from
 * {@code qwen.gpu-memory-utilization}, else {@link QwenProperties#DEFAULT_KV_SEQUENCES} sequences'
 * worth of tokens.
 */
final class KvCachePlanner {

    /** What the pool will be, and the sizing behind it for the start-up log line. */
    record Plan(KvCacheCapacity capacity, KvCacheSizing sizing) {
    }

    private KvCachePlanner() {
    }

    /**
     * @param onGpu whether the KV cache lives in GPU memory (bf16) rather than host RAM (float32)
     * @param gpuBudgetBytes what the engine factory can give the KV cache, when it knows
     */
    static Plan plan(QwenProperties p, ModelConfig config, boolean onGpu, OptionalLong gpuBudgetBytes) {
        int perSequence = p.tokensPerSequence(config.contextLength(), onGpu);
        long bytesPerToken = KvCacheSizing.bytesPerToken(config, onGpu ? 2 : Float.BYTES);
        KvCacheSizing sizing;
        if (p.kvCacheBytes() != null) {
            sizing = KvCacheSizing.of(p.kvCacheBytes().toBytes(), bytesPerToken, p.kvBlockSize(), perSequence);
        } else if (onGpu && gpuBudgetBytes.isPresent()) {
            sizing = KvCacheSizing.of(gpuBudgetBytes.getAsLong(), bytesPerToken, p.kvBlockSize(), perSequence);
        } else {
            long tokens = (long) Math.min(p.kvMaxSequences(), QwenProperties.DEFAULT_KV_SEQUENCES) * perSequence;
            sizing = KvCacheSizing.ofTokens(tokens, bytesPerToken, p.kvBlockSize(), perSequence);
        }
        KvCacheCapacity capacity = new KvCacheCapacity(p.kvMaxSequences(), sizing.maxTokensPerSequence(),
                sizing.blockSize(), sizing.totalBlocks());
        return new Plan(capacity, sizing);
    }
}

package qwenchat.serving;

import java.util.OptionalLong;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.LoadProgressListener;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;

/**
 * The one seam where serving builds an engine, so the CUDA engine (chosen by {@code qwen.engine})
 * slots in without touching the lifecycle or the scheduler. The checkpoint stays open while the
 * engine lives.
 */
public interface EngineFactory {

    InferenceEngine create(ModelConfig config, Checkpoint checkpoint, KvCacheCapacity capacity,
            LoadProgressListener progress);

    /**
     * Whether the engine this factory will build keeps its KV cache in GPU memory, where a slot can
     * hold the model's whole context; host RAM gets a smaller default (see {@link QwenProperties}).
     */
    default boolean kvCacheOnGpu() {
        return false;
    }

    /**
     * Bytes the KV cache may take on the GPU when the process uses the fraction
     * {@code gpuMemoryUtilization} of it, after weights and workspace for {@code config}; empty
     * when this factory cannot tell (then {@link KvCachePlanner} falls back to a token budget).
     */
    default OptionalLong kvCacheBudgetBytes(ModelConfig config, double gpuMemoryUtilization, int maxTokensPerSequence) {
        return OptionalLong.empty();
    }
}

package qwenchat.serving;

import java.util.OptionalLong;
import qwenchat.serving.EngineChoice.Choice;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.cpu.CpuEngineOptions;
import qwenchat.engine.cuda.CudaAvailability;
import qwenchat.engine.cuda.CudaEngine;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;

/**
 * Chooses the engine from {@code qwen.engine} through {@link EngineChoice}: auto
 * takes CUDA when a device and the jar's kernels are present, an explicit cuda without them fails
 * with the probe's reason. The probe runs once, when the choice is first needed.
 */
final class DefaultEngineFactory implements EngineFactory {

    private final QwenProperties properties;
    private Choice resolved;

    DefaultEngineFactory(QwenProperties properties) {
        this.properties = properties;
    }

    private synchronized Choice resolved() {
        if (resolved == null) {
            resolved = EngineChoice.resolve(Choice.parse(properties.engine()), CudaAvailability.probe());
        }
        return resolved;
    }

    @Override
    public boolean kvCacheOnGpu() {
        return resolved() == Choice.CUDA;
    }

    /**
     * For CUDA: the device's total memory (or {@link CudaEngine#SIMULATE_DEVICE_MEMORY}) times
     * {@code gpuMemoryUtilization}, less the context, weights, workspace and reserve (see
     * {@link CudaEngine#kvBudgetBytes}); empty for the CPU engine.
     */
    @Override
    public OptionalLong kvCacheBudgetBytes(ModelConfig config, double gpuMemoryUtilization, int maxTokensPerSequence) {
        if (resolved() != Choice.CUDA) return OptionalLong.empty();
        return OptionalLong.of(CudaEngine.kvBudgetBytes(0, config, gpuMemoryUtilization, properties.kvMaxSequences(),
                maxTokensPerSequence, properties.kvBlockSize()));
    }

    @Override
    public InferenceEngine create(ModelConfig config, Checkpoint checkpoint, KvCacheCapacity capacity,
            LoadProgressListener progress) {
        CpuEngineOptions options = CpuEngineOptions.defaults().withProgress(progress);
        if (properties.cpuThreads() != null) options = options.withThreads(properties.cpuThreads());
        return EngineChoice.create(resolved(), config, checkpoint, capacity, options,
                CudaEngine.Options.defaults().withBatchInvariant(properties.batchInvariant()), progress);
    }
}

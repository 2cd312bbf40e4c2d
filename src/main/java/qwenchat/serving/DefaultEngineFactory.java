package qwenchat.serving;

import java.util.List;
import java.util.OptionalLong;
import qwenchat.engine.EngineException;
import qwenchat.engine.cuda.CudaPlacement;
import qwenchat.engine.placement.PlacementPlan;
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
    /** The GPU the placement chose for the engine; the first visible one until a placement ran. */
    private int cudaDevice;

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
     * For CUDA: the placement of the model on the {@code qwen.gpus} devices, logged one line per GPU
     * (see {@link CudaPlacement#planForEngine}), and the KV budget of the GPU the engine runs on: its
     * total memory (or {@link CudaEngine#SIMULATE_DEVICE_MEMORY}) times {@code gpuMemoryUtilization},
     * less the context, weights, workspace and reserve. Empty for the CPU engine.
     */
    @Override
    public OptionalLong kvCacheBudgetBytes(ModelConfig config, double gpuMemoryUtilization, int maxTokensPerSequence) {
        if (resolved() != Choice.CUDA) return OptionalLong.empty();
        List<Integer> gpus;
        try {
            gpus = properties.gpuSelection().resolve(CudaAvailability.probe().deviceCount());
        } catch (IllegalArgumentException e) {
            throw new EngineException(e.getMessage());
        }
        PlacementPlan plan = CudaPlacement.planForEngine(config, CudaPlacement.probe(gpus), new CudaPlacement.Sizing(gpuMemoryUtilization,
                properties.kvMaxSequences(), maxTokensPerSequence, properties.kvBlockSize()));
        synchronized (this) {
            cudaDevice = plan.first().device().ordinal();
        }
        return OptionalLong.of(plan.first().kvBudgetBytes());
    }

    @Override
    public InferenceEngine create(ModelConfig config, Checkpoint checkpoint, KvCacheCapacity capacity,
            LoadProgressListener progress) {
        CpuEngineOptions options = CpuEngineOptions.defaults().withProgress(progress);
        if (properties.cpuThreads() != null) options = options.withThreads(properties.cpuThreads());
        int device;
        synchronized (this) {
            device = cudaDevice;
        }
        return EngineChoice.create(resolved(), config, checkpoint, capacity, options,
                CudaEngine.Options.defaults().withDevice(device).withBatchInvariant(properties.batchInvariant()), progress);
    }
}

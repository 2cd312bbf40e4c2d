package qwenchat.serving;

import qwenchat.engine.EngineException;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.cpu.CpuEngine;
import qwenchat.engine.cpu.CpuEngineOptions;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;

/**
 * Chooses the engine from {@code qwen.engine}. Until the CUDA engine's factory lands, {@code auto}
 * means CPU and {@code cuda} fails loading with a clear reason.
 */
final class DefaultEngineFactory implements EngineFactory {

    private final QwenProperties properties;

    DefaultEngineFactory(QwenProperties properties) {
        this.properties = properties;
    }

    @Override
    public InferenceEngine create(ModelConfig config, Checkpoint checkpoint, KvCacheCapacity capacity,
            LoadProgressListener progress) {
        // TODO(lead): delegate to the cuda branch's engine factory (qwen.engine=auto|cuda|cpu) once it is merged.
        if (properties.engine().equals("cuda")) {
            throw new EngineException("qwen.engine=cuda, but this build has no CUDA engine yet; use qwen.engine=cpu or auto");
        }
        CpuEngineOptions options = CpuEngineOptions.defaults().withProgress(progress);
        if (properties.cpuThreads() != null) options = options.withThreads(properties.cpuThreads());
        return CpuEngine.load(config, checkpoint, capacity, options);
    }
}

package qwenchat.serving;

import java.util.Locale;
import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.EngineException;
import qwenchat.engine.cpu.CpuEngine;
import qwenchat.engine.cpu.CpuEngineOptions;
import qwenchat.engine.cuda.CudaAvailability;
import qwenchat.engine.cuda.CudaEngine;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;

/**
 * Builds the engine {@code qwen.engine} asks for: {@code cuda}, {@code cpu}, or {@code auto} (the
 * default: CUDA when a device and the jar's kernels are present, else CPU). An explicit
 * {@code cuda} without a usable GPU fails with the probe's reason instead of falling back silently.
 */
public final class EngineChoice {

    public enum Choice {
        AUTO, CUDA, CPU;

        /** Parses a {@code qwen.engine} value; null or blank means auto. */
        public static Choice parse(String value) {
            if (value == null || value.isBlank()) return AUTO;
            try {
                return valueOf(value.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("qwen.engine must be auto, cuda or cpu, got '" + value + "'");
            }
        }
    }

    private EngineChoice() {
    }

    /** What {@code choice} resolves to here, without loading anything. */
    public static Choice resolve(Choice choice, CudaAvailability cuda) {
        return switch (choice) {
            case CPU -> Choice.CPU;
            case CUDA -> {
                if (!cuda.available()) throw new EngineException("qwen.engine=cuda but CUDA is not usable: " + cuda.reason());
                yield Choice.CUDA;
            }
            case AUTO -> cuda.available() ? Choice.CUDA : Choice.CPU;
        };
    }

    /**
     * Builds the engine for an already {@link #resolve resolved} choice ({@code CUDA} or {@code CPU}).
     *
     * @param cpuOptions used when the choice is CPU
     * @param cudaOptions used when the choice is CUDA
     */
    public static InferenceEngine create(Choice resolved, ModelConfig config, Checkpoint checkpoint,
            KvCacheCapacity capacity, CpuEngineOptions cpuOptions, CudaEngine.Options cudaOptions,
            LoadProgressListener progress) {
        if (resolved == Choice.AUTO) throw new IllegalArgumentException("resolve the choice first");
        if (resolved == Choice.CUDA) return CudaEngine.load(config, checkpoint, capacity, progress, cudaOptions);
        return CpuEngine.load(config, checkpoint, capacity, cpuOptions);
    }
}

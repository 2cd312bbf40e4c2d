package qwenchat.engine.cpu;

import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.WeightOverrides;

/**
 * How to build a {@link CpuEngine}.
 *
 * @param threads worker threads for matrix products and attention (the cores, by default)
 * @param scalarOracle use the single-threaded one-accumulator kernels (tests compare the fast path against them)
 */
public record CpuEngineOptions(int threads, boolean scalarOracle, WeightOverrides overrides, LoadProgressListener progress) {

    public CpuEngineOptions {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        if (overrides == null) overrides = WeightOverrides.NONE;
        if (progress == null) progress = LoadProgressListener.NONE;
    }

    public static CpuEngineOptions defaults() {
        return new CpuEngineOptions(Runtime.getRuntime().availableProcessors(), false, WeightOverrides.NONE,
                LoadProgressListener.NONE);
    }

    public CpuEngineOptions withOverrides(WeightOverrides o) {
        return new CpuEngineOptions(threads, scalarOracle, o, progress);
    }

    public CpuEngineOptions withScalarOracle(boolean scalar) {
        return new CpuEngineOptions(threads, scalar, overrides, progress);
    }

    public CpuEngineOptions withThreads(int n) {
        return new CpuEngineOptions(n, scalarOracle, overrides, progress);
    }

    public CpuEngineOptions withProgress(LoadProgressListener p) {
        return new CpuEngineOptions(threads, scalarOracle, overrides, p);
    }
}

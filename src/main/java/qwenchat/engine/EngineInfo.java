package qwenchat.engine;

import java.util.List;

/**
 * What an operator needs to know about a running engine.
 *
 * @param kind "cpu" or "cuda"
 * @param device CPU description or GPU name
 * @param computeCapability e.g. "9.0"; null on CPU
 * @param driverVersion CUDA driver version; null on CPU
 * @param weightBytes bytes the weights occupy (on the device, or mapped for CPU)
 * @param kvCacheBytes bytes reserved for the KV cache
 * @param workspaceBytes scratch buffers (activations, logits, graphs)
 * @param deviceTotalBytes total device memory; 0 on CPU
 * @param gpus memory of each GPU the engine runs on, in stage order; empty on CPU
 */
public record EngineInfo(
        String kind,
        String device,
        String computeCapability,
        String driverVersion,
        long weightBytes,
        long kvCacheBytes,
        long workspaceBytes,
        long deviceTotalBytes,
        List<GpuMemory> gpus) {

    public EngineInfo {
        gpus = gpus == null ? List.of() : List.copyOf(gpus);
    }

    /** An engine that runs on no GPU. */
    public EngineInfo(String kind, String device, String computeCapability, String driverVersion, long weightBytes,
            long kvCacheBytes, long workspaceBytes, long deviceTotalBytes) {
        this(kind, device, computeCapability, driverVersion, weightBytes, kvCacheBytes, workspaceBytes,
                deviceTotalBytes, List.of());
    }
}

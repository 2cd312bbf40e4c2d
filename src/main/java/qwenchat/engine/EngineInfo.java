package qwenchat.engine;

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
 */
public record EngineInfo(
        String kind,
        String device,
        String computeCapability,
        String driverVersion,
        long weightBytes,
        long kvCacheBytes,
        long workspaceBytes,
        long deviceTotalBytes) {
}

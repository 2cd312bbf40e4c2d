package qwenchat.engine;

/**
 * One GPU's memory as the engine last read it.
 *
 * @param ordinal the CUDA device ordinal (the metrics' {@code gpu} label)
 * @param name the device's name
 * @param usedBytes memory in use on the device: weights, KV pool, workspace, the CUDA context and
 *     anything other processes hold; read once the model is loaded, when the engine's allocations
 *     are all made
 * @param totalBytes the device's memory
 */
public record GpuMemory(int ordinal, String name, long usedBytes, long totalBytes) {

    public GpuMemory {
        if (ordinal < 0) throw new IllegalArgumentException("GPU ordinal must be >= 0, got " + ordinal);
        if (usedBytes < 0 || totalBytes < 0) {
            throw new IllegalArgumentException("GPU " + ordinal + " memory must be >= 0, got used " + usedBytes
                    + " of " + totalBytes);
        }
    }
}

package qwenchat.engine.placement;

/**
 * One GPU as the placement sees it.
 *
 * @param ordinal the CUDA device ordinal
 * @param name the device's name, for log lines and errors
 * @param totalBytes the device's memory
 * @param freeBytes what is free now; {@code total - free} is already taken (a CUDA context, other processes)
 */
public record GpuDevice(int ordinal, String name, long totalBytes, long freeBytes) {

    public GpuDevice {
        if (ordinal < 0) throw new IllegalArgumentException("GPU ordinal must be >= 0, got " + ordinal);
        if (totalBytes < 1) throw new IllegalArgumentException("GPU " + ordinal + " total memory must be >= 1 byte, got " + totalBytes);
        if (freeBytes < 0 || freeBytes > totalBytes) {
            throw new IllegalArgumentException("GPU " + ordinal + " free memory must be in 0.." + totalBytes + ", got " + freeBytes);
        }
        name = name == null || name.isBlank() ? "GPU " + ordinal : name;
    }

    /** Memory already taken before the engine allocates anything. */
    public long usedBytes() {
        return totalBytes - freeBytes;
    }
}

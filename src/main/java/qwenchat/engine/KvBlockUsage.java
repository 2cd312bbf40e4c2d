package qwenchat.engine;

/**
 * How full the engine's paged KV pool is now: what the scheduler admits and preempts by.
 *
 * @param totalBlocks blocks in the pool
 * @param freeBlocks blocks no open sequence holds
 * @param blockSize tokens per block
 */
public record KvBlockUsage(int totalBlocks, int freeBlocks, int blockSize) {

    public KvBlockUsage {
        if (totalBlocks < 1) throw new IllegalArgumentException("totalBlocks must be >= 1, got " + totalBlocks);
        if (blockSize < 1) throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
        if (freeBlocks < 0 || freeBlocks > totalBlocks) {
            throw new IllegalArgumentException("freeBlocks must be 0.." + totalBlocks + ", got " + freeBlocks);
        }
    }

    public int usedBlocks() {
        return totalBlocks - freeBlocks;
    }

    /** Tokens the whole pool holds. */
    public long totalTokens() {
        return (long) totalBlocks * blockSize;
    }

    /** Blocks a sequence of {@code tokens} tokens occupies. */
    public int blocksFor(long tokens) {
        return (int) ((tokens + blockSize - 1) / blockSize);
    }

    /** Fraction of blocks in use, 0..1. */
    public double usedFraction() {
        return (double) usedBlocks() / totalBlocks;
    }
}

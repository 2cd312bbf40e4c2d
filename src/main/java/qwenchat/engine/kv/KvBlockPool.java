package qwenchat.engine.kv;

import java.util.BitSet;

/**
 * Hands out the ids {@code 0..totalBlocks-1} of a fixed pool of KV blocks. Single-threaded: the
 * scheduler loop, or the engine worker it drives, calls it one call at a time.
 */
public final class KvBlockPool {

    private final int blockSize;
    private final int totalBlocks;
    // Free ids as a stack, so a freed block is handed out again first while its memory is warm.
    private final int[] free;
    private int freeCount;
    private final BitSet allocated;

    public KvBlockPool(int totalBlocks, int blockSize) {
        if (totalBlocks < 1) throw new IllegalArgumentException("totalBlocks must be >= 1, got " + totalBlocks);
        if (blockSize < 1) throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
        this.blockSize = blockSize;
        this.totalBlocks = totalBlocks;
        this.free = new int[totalBlocks];
        // Lowest ids on top, so a fresh pool fills from block 0 upward.
        for (int i = 0; i < totalBlocks; i++) free[i] = totalBlocks - 1 - i;
        this.freeCount = totalBlocks;
        this.allocated = new BitSet(totalBlocks);
    }

    /** Takes a free block; the caller checks {@link #freeBlocks()} first. */
    public int allocate() {
        if (freeCount == 0) throw new IllegalStateException("all " + totalBlocks + " KV blocks are in use");
        int id = free[--freeCount];
        allocated.set(id);
        return id;
    }

    /** Returns a block; returning one that is not allocated is a bug in the caller and throws. */
    public void free(int block) {
        if (block < 0 || block >= totalBlocks) {
            throw new IllegalArgumentException("block " + block + " is outside the pool 0.." + (totalBlocks - 1));
        }
        if (!allocated.get(block)) throw new IllegalStateException("block " + block + " is not allocated");
        allocated.clear(block);
        free[freeCount++] = block;
    }

    public int freeBlocks() {
        return freeCount;
    }

    public int usedBlocks() {
        return totalBlocks - freeCount;
    }

    public int totalBlocks() {
        return totalBlocks;
    }

    public int blockSize() {
        return blockSize;
    }
}

package qwenchat.engine.kv;

import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.function.IntConsumer;

/**
 * Hands out the ids {@code 0..totalBlocks-1} of a fixed pool of KV blocks and counts who holds
 * each. A block returned by its last holder either becomes free, or, when its contents are worth
 * keeping (a full block the prefix cache knows), waits in a least-recently-released order to be
 * held again; such a block counts as free and is reclaimed, oldest first, only when no plainly
 * free block is left. Single-threaded: the scheduler loop, or the engine worker it drives, calls
 * it one call at a time.
 */
public final class KvBlockPool {

    private final int blockSize;
    private final int totalBlocks;
    // Free ids as a stack, so a freed block is handed out again first while its memory is warm.
    private final int[] free;
    private int freeCount;
    private final int[] holders;
    // Unheld blocks with reusable contents, least recently released first.
    private final LinkedHashSet<Integer> evictable = new LinkedHashSet<>();
    private IntConsumer onEvict = id -> { };

    public KvBlockPool(int totalBlocks, int blockSize) {
        if (totalBlocks < 1) throw new IllegalArgumentException("totalBlocks must be >= 1, got " + totalBlocks);
        if (blockSize < 1) throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
        this.blockSize = blockSize;
        this.totalBlocks = totalBlocks;
        this.free = new int[totalBlocks];
        // Lowest ids on top, so a fresh pool fills from block 0 upward.
        for (int i = 0; i < totalBlocks; i++) free[i] = totalBlocks - 1 - i;
        this.freeCount = totalBlocks;
        this.holders = new int[totalBlocks];
    }

    /** Who is told when a cached block is reclaimed, so it forgets the block's contents. */
    void onEvict(IntConsumer listener) {
        this.onEvict = listener;
    }

    /**
     * Takes a block with one holder: a free one if any, else the least recently released cached
     * one, whose contents are forgotten. The caller checks {@link #freeBlocks()} first.
     */
    public int allocate() {
        int id;
        if (freeCount > 0) {
            id = free[--freeCount];
        } else if (!evictable.isEmpty()) {
            Iterator<Integer> oldest = evictable.iterator();
            id = oldest.next();
            oldest.remove();
            onEvict.accept(id);
        } else {
            throw new IllegalStateException("all " + totalBlocks + " KV blocks are in use");
        }
        holders[id] = 1;
        return id;
    }

    /** One more holder of an allocated or cached block; a cached block leaves the eviction order. */
    void hold(int block) {
        check(block);
        if (holders[block] == 0) {
            if (!evictable.remove(block)) throw new IllegalStateException("block " + block + " is free, not cached");
        }
        holders[block]++;
    }

    /** Returns a block that is not worth keeping; see {@link #release(int, boolean)}. */
    public void free(int block) {
        release(block, false);
    }

    /**
     * Drops one holder. The last one makes the block free, or, when {@code keepContents}, cached:
     * free for the pool's accounting but found again by {@link #hold} until it is reclaimed.
     * Returning a block nobody holds is a bug in the caller and throws.
     */
    void release(int block, boolean keepContents) {
        check(block);
        if (holders[block] == 0) throw new IllegalStateException("block " + block + " is not allocated");
        if (--holders[block] > 0) return;
        if (keepContents) evictable.add(block);
        else free[freeCount++] = block;
    }

    /** Holders of a block; 0 for a free or cached one. */
    int holders(int block) {
        check(block);
        return holders[block];
    }

    /** Whether the block waits, unheld, with its contents kept. */
    boolean isCached(int block) {
        return holders[block] == 0 && evictable.contains(block);
    }

    /** Blocks a new allocation may take: the free ones and the unheld cached ones. */
    public int freeBlocks() {
        return freeCount + evictable.size();
    }

    /** Unheld blocks whose contents are kept for reuse (they count as free). */
    public int cachedBlocks() {
        return evictable.size();
    }

    public int usedBlocks() {
        return totalBlocks - freeBlocks();
    }

    public int totalBlocks() {
        return totalBlocks;
    }

    public int blockSize() {
        return blockSize;
    }

    private void check(int block) {
        if (block < 0 || block >= totalBlocks) {
            throw new IllegalArgumentException("block " + block + " is outside the pool 0.." + (totalBlocks - 1));
        }
    }
}

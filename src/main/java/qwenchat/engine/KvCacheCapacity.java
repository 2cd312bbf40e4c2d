package qwenchat.engine;

/**
 * The engine's paged KV cache: a pool of {@code totalBlocks} blocks of {@code blockSize} tokens
 * that open sequences draw on as they grow.
 *
 * @param maxSequences sequences open at once
 * @param maxTokensPerSequence the longest one sequence may grow (the served context limit); a
 *     limit, not a reservation: a sequence holds only the blocks its tokens fill
 * @param blockSize tokens per block
 * @param totalBlocks blocks in the pool, shared by all sequences
 */
public record KvCacheCapacity(int maxSequences, int maxTokensPerSequence, int blockSize, int totalBlocks) {

    /** Tokens per block when nothing else is configured (see docs/cuda-engine.md). */
    public static final int DEFAULT_BLOCK_SIZE = 64;

    public KvCacheCapacity {
        if (maxSequences < 1) throw new IllegalArgumentException("maxSequences must be >= 1, got " + maxSequences);
        if (maxTokensPerSequence < 1) {
            throw new IllegalArgumentException("maxTokensPerSequence must be >= 1, got " + maxTokensPerSequence);
        }
        if (blockSize < 1) throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
        if (totalBlocks < 1) throw new IllegalArgumentException("totalBlocks must be >= 1, got " + totalBlocks);
    }

    /**
     * A pool as large as {@code maxSequences} sequences of {@code maxTokensPerSequence} tokens
     * each would fill, in blocks of {@link #DEFAULT_BLOCK_SIZE}: what the cache held before it was
     * paged, so nothing that ran then is refused now.
     */
    public KvCacheCapacity(int maxSequences, int maxTokensPerSequence) {
        this(maxSequences, maxTokensPerSequence, DEFAULT_BLOCK_SIZE,
                fullPool(maxSequences, maxTokensPerSequence, DEFAULT_BLOCK_SIZE));
    }

    /** Like {@link #KvCacheCapacity(int, int)} with blocks of {@code blockSize} tokens. */
    public static KvCacheCapacity fullyBacked(int maxSequences, int maxTokensPerSequence, int blockSize) {
        return new KvCacheCapacity(maxSequences, maxTokensPerSequence, blockSize,
                fullPool(maxSequences, maxTokensPerSequence, blockSize));
    }

    /** Tokens the whole pool holds. */
    public long totalTokens() {
        return (long) blockSize * totalBlocks;
    }

    /** Blocks one sequence of {@code maxTokensPerSequence} tokens spans: the width of a block table. */
    public int maxBlocksPerSequence() {
        return (int) (((long) maxTokensPerSequence + blockSize - 1) / blockSize);
    }

    private static int fullPool(int maxSequences, int maxTokensPerSequence, int blockSize) {
        if (maxSequences < 1 || maxTokensPerSequence < 1 || blockSize < 1) return 0; // the constructor names it
        long perSequence = ((long) maxTokensPerSequence + blockSize - 1) / blockSize;
        return (int) Math.min(Integer.MAX_VALUE, perSequence * maxSequences);
    }
}

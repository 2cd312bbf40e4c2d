package qwenchat.engine.kv;

import java.util.Arrays;
import qwenchat.engine.KvBlockUsage;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.KvCacheFullException;

/**
 * The paged KV cache's bookkeeping, shared by the CPU and CUDA engines: the block pool and a
 * {@link BlockTable} per open sequence. Sequence ids are {@code 0..maxSequences-1}, reused after a
 * free. An engine appends the tokens of a whole step here before it computes anything, so a step
 * that does not fit throws {@link KvCacheFullException} and changes nothing. Single-threaded.
 */
public final class KvBlockManager {

    private final KvBlockPool pool;
    private final int maxTokensPerSequence;
    private final BlockTable[] tables; // null where the id is not open
    private int open;

    public KvBlockManager(KvCacheCapacity capacity) {
        this.pool = new KvBlockPool(capacity.totalBlocks(), capacity.blockSize());
        this.maxTokensPerSequence = capacity.maxTokensPerSequence();
        this.tables = new BlockTable[capacity.maxSequences()];
    }

    /**
     * Opens an empty sequence; it holds no block until tokens are appended.
     *
     * @throws KvCacheFullException when all {@code maxSequences} ids are open
     */
    public int openSequence() {
        for (int i = 0; i < tables.length; i++) {
            if (tables[i] == null) {
                tables[i] = new BlockTable(pool.blockSize());
                open++;
                return i;
            }
        }
        throw new KvCacheFullException("all " + tables.length + " sequence slots are open");
    }

    /** Returns the sequence's blocks to the pool; freeing an id that is not open is a no-op. */
    public void freeSequence(int sequence) {
        if (sequence < 0 || sequence >= tables.length || tables[sequence] == null) return;
        BlockTable t = tables[sequence];
        for (int i = 0; i < t.blockCount(); i++) pool.free(t.blockAt(i));
        t.clear();
        tables[sequence] = null;
        open--;
    }

    public boolean isOpen(int sequence) {
        return sequence >= 0 && sequence < tables.length && tables[sequence] != null;
    }

    public int openSequenceCount() {
        return open;
    }

    public int sequenceLength(int sequence) {
        return table(sequence).length();
    }

    /** The sequence's block ids in position order, a copy (for upload to a device block table). */
    public int[] blockIds(int sequence) {
        return table(sequence).blockIds();
    }

    /** The sequence's live block table, for reading keys and values through it. */
    public BlockTable table(int sequence) {
        if (!isOpen(sequence)) throw new IllegalArgumentException("sequence " + sequence + " is not open");
        return tables[sequence];
    }

    /** Blocks that {@code tokens} tokens fill. */
    public int blocksFor(long tokens) {
        return (int) ((tokens + pool.blockSize() - 1) / pool.blockSize());
    }

    /** New blocks the sequence needs to grow by {@code tokens}. */
    public int blocksNeeded(int sequence, int tokens) {
        BlockTable t = table(sequence);
        return Math.max(0, blocksFor((long) t.length() + tokens) - t.blockCount());
    }

    public boolean canAppend(int sequence, int tokens) {
        BlockTable t = table(sequence);
        return (long) t.length() + tokens <= maxTokensPerSequence && blocksNeeded(sequence, tokens) <= pool.freeBlocks();
    }

    /**
     * Grows the sequence by {@code tokens}, taking whatever blocks that needs: all or nothing.
     *
     * @throws KvCacheFullException naming the numbers when the blocks are not free or the sequence
     *     would exceed {@code maxTokensPerSequence}
     */
    public void append(int sequence, int tokens) {
        appendAll(new int[] {sequence}, new int[] {tokens});
    }

    /**
     * Grows every {@code sequences[i]} by {@code tokens[i]}, all or nothing: one engine step.
     *
     * @throws KvCacheFullException when the step's blocks are not all free, or a sequence would
     *     exceed {@code maxTokensPerSequence}; nothing has changed then
     */
    public void appendAll(int[] sequences, int[] tokens) {
        if (sequences.length != tokens.length) {
            throw new IllegalArgumentException(sequences.length + " sequences but " + tokens.length + " token counts");
        }
        int[] sorted = sequences.clone();
        Arrays.sort(sorted);
        for (int i = 1; i < sorted.length; i++) {
            if (sorted[i] == sorted[i - 1]) {
                throw new IllegalArgumentException("sequence " + sorted[i] + " appears twice in one step");
            }
        }
        long need = 0;
        for (int i = 0; i < sequences.length; i++) {
            if (tokens[i] < 0) throw new IllegalArgumentException("cannot append " + tokens[i] + " tokens");
            BlockTable t = table(sequences[i]);
            long after = (long) t.length() + tokens[i];
            if (after > maxTokensPerSequence) {
                throw new KvCacheFullException("sequence " + sequences[i] + " would hold " + after
                        + " tokens, over the KV cache's " + maxTokensPerSequence + " tokens per sequence");
            }
            need += blocksNeeded(sequences[i], tokens[i]);
        }
        if (need > pool.freeBlocks()) {
            throw new KvCacheFullException("the step needs " + need + " more KV blocks of " + pool.blockSize()
                    + " tokens but only " + pool.freeBlocks() + " of " + pool.totalBlocks() + " are free");
        }
        for (int i = 0; i < sequences.length; i++) {
            BlockTable t = tables[sequences[i]];
            for (int b = blocksNeeded(sequences[i], tokens[i]); b > 0; b--) t.addBlock(pool.allocate());
            t.setLength(t.length() + tokens[i]);
        }
    }

    public int freeBlocks() {
        return pool.freeBlocks();
    }

    public int usedBlocks() {
        return pool.usedBlocks();
    }

    public int totalBlocks() {
        return pool.totalBlocks();
    }

    public int blockSize() {
        return pool.blockSize();
    }

    public int maxSequences() {
        return tables.length;
    }

    public KvBlockUsage usage() {
        return new KvBlockUsage(pool.totalBlocks(), pool.freeBlocks(), pool.blockSize());
    }
}

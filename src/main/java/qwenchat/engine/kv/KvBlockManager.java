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
 *
 * <h2>Prefix caching</h2>
 * When an engine appends token ids (not just counts), every block that fills is named by
 * {@link BlockHash} (its tokens chained to its parent's name) and registered in a
 * {@link PrefixCache}. A block is held by every sequence whose table lists it; when the last one
 * lets go, a registered block stays cached in the pool's eviction order rather than becoming plainly
 * free. {@link #reuseCachedPrefix} starts a new sequence on the longest run of cached full blocks
 * that begins its tokens, so only the rest needs computing. The engine must compute a step's KV
 * before anyone can reuse it, which holds because lookups happen between steps; if a step fails
 * halfway, {@link #forgetContents} keeps its unfinished blocks out of the cache.
 */
public final class KvBlockManager {

    private final KvBlockPool pool;
    private final int maxTokensPerSequence;
    private final BlockTable[] tables; // null where the id is not open
    private final PrefixCache cache;
    private final BlockHash.Hasher hasher = new BlockHash.Hasher();
    private int open;

    public KvBlockManager(KvCacheCapacity capacity) {
        this.pool = new KvBlockPool(capacity.totalBlocks(), capacity.blockSize());
        this.maxTokensPerSequence = capacity.maxTokensPerSequence();
        this.tables = new BlockTable[capacity.maxSequences()];
        this.cache = new PrefixCache(capacity.totalBlocks());
        pool.onEvict(cache::forget);
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
        for (int i = 0; i < t.blockCount(); i++) pool.release(t.blockAt(i), cache.isRegistered(t.blockAt(i)));
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
        grow(sequences, tokens);
        // Without the ids the blocks cannot be named; these sequences leave the prefix cache alone.
        for (int s : sequences) tables[s].unnamed();
    }

    /**
     * Like {@link #appendAll(int[], int[])} with the token ids themselves, so that every block that
     * fills is registered in the prefix cache.
     */
    public void appendAll(int[] sequences, int[][] tokens) {
        int[] counts = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) counts[i] = tokens[i].length;
        int[] before = new int[sequences.length];
        for (int i = 0; i < sequences.length && i < counts.length; i++) {
            before[i] = isOpen(sequences[i]) ? tables[sequences[i]].length() : 0;
        }
        grow(sequences, counts);
        for (int i = 0; i < sequences.length; i++) name(tables[sequences[i]], before[i], tokens[i]);
    }

    /** Copies appended ids into the filling block and registers each block they complete. */
    private void name(BlockTable t, int before, int[] ids) {
        if (!t.named()) return;
        int size = pool.blockSize();
        int[] partial = t.partial();
        for (int i = 0; i < ids.length; i++) {
            int pos = before + i;
            partial[pos % size] = ids[i];
            if (pos % size == size - 1) {
                BlockHash parent = t.lastFull();
                BlockHash hash = hasher.of(parent, partial, 0, size);
                cache.register(t.blockAt(pos / size), hash, parent, partial);
                t.lastFull(hash);
            }
        }
    }

    /**
     * Tokens at the start of {@code tokens} that cached full blocks hold, leaving at least one token
     * to compute (a step needs one to produce logits). Changes nothing.
     */
    public int cachedPrefixLength(int[] tokens) {
        return lookup(tokens, null);
    }

    /**
     * Starts an empty sequence on the cached blocks that hold the longest prefix of {@code tokens}
     * (as {@link #cachedPrefixLength} counts it): the sequence holds them as if it had computed them.
     *
     * @return tokens reused, a multiple of the block size
     * @throws IllegalStateException when the sequence already holds tokens
     */
    public int reuseCachedPrefix(int sequence, int[] tokens) {
        BlockTable t = table(sequence);
        if (t.length() > 0 || t.blockCount() > 0) {
            throw new IllegalStateException("sequence " + sequence + " already holds " + t.length() + " tokens");
        }
        return lookup(tokens, t);
    }

    private int lookup(int[] tokens, BlockTable into) {
        int size = pool.blockSize();
        int usable = (tokens.length - 1) / size;
        BlockHash parent = BlockHash.ROOT;
        int found = 0;
        for (; found < usable; found++) {
            int from = found * size;
            BlockHash hash = hasher.of(parent, tokens, from, size);
            int block = cache.find(hash, parent, tokens, from, size);
            if (block < 0) break;
            if (into != null) {
                pool.hold(block);
                into.addBlock(block);
                into.lastFull(hash);
            }
            parent = hash;
        }
        if (into != null) into.setLength(found * size);
        return found * size;
    }

    /**
     * Keeps the blocks that only this sequence holds out of the prefix cache: for a step that failed
     * after its blocks were named, whose keys and values may be half written.
     */
    public void forgetContents(int sequence) {
        BlockTable t = table(sequence);
        for (int i = 0; i < t.blockCount(); i++) {
            if (pool.holders(t.blockAt(i)) == 1) cache.forget(t.blockAt(i));
        }
        t.unnamed();
    }

    /** Cached blocks that no sequence holds now (they count as free). */
    public int cachedFreeBlocks() {
        return pool.cachedBlocks();
    }

    private void grow(int[] sequences, int[] tokens) {
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

package qwenchat.engine.cuda;

/**
 * The host's record of what the device block table holds, so a step uploads only the entries that
 * changed: for a decode step usually none, or the one block a sequence just grew into. Pure Java
 * (no device), so the diffing is unit-tested without a GPU; {@link DeviceKvCache} does the copies.
 */
final class BlockTableMirror {
    private final int maxSequences;
    private final int maxBlocksPerSeq;
    private final int totalBlocks;
    private final int[] table;   // [maxSequences][maxBlocksPerSeq], what the device holds where synced
    private final int[] synced;  // leading entries of each row that the device holds

    BlockTableMirror(int maxSequences, int maxBlocksPerSeq, int totalBlocks) {
        this.maxSequences = maxSequences;
        this.maxBlocksPerSeq = maxBlocksPerSeq;
        this.totalBlocks = totalBlocks;
        this.table = new int[maxSequences * maxBlocksPerSeq];
        this.synced = new int[maxSequences];
    }

    /**
     * Records that row {@code seq} must hold {@code blockIds}; returns the index of the first entry
     * the device does not hold yet (entries from there to {@code blockIds.length} must be uploaded),
     * or {@code blockIds.length} when nothing changed.
     *
     * @throws IllegalArgumentException naming the limit when the sequence, its block count or a block id is out of range
     */
    int update(int seq, int[] blockIds) {
        if (seq < 0 || seq >= maxSequences) {
            throw new IllegalArgumentException("sequence " + seq + " outside the block table's 0.." + (maxSequences - 1));
        }
        if (blockIds.length > maxBlocksPerSeq) {
            throw new IllegalArgumentException("sequence " + seq + " holds " + blockIds.length
                    + " blocks, over the block table's " + maxBlocksPerSeq + " per sequence");
        }
        int row = seq * maxBlocksPerSeq;
        int first = 0;
        int have = synced[seq];
        while (first < blockIds.length && first < have && table[row + first] == blockIds[first]) first++;
        for (int i = first; i < blockIds.length; i++) {
            int id = blockIds[i];
            if (id < 0 || id >= totalBlocks) {
                throw new IllegalArgumentException("block id " + id + " of sequence " + seq + " outside the pool's 0.."
                        + (totalBlocks - 1));
            }
            table[row + i] = id;
        }
        synced[seq] = blockIds.length;
        return first;
    }

    /** Entry {@code i} of row {@code seq} as last recorded. */
    int entry(int seq, int i) {
        return table[seq * maxBlocksPerSeq + i];
    }

    /** Forgets what row {@code seq} holds (the sequence was freed; its id may come back with other blocks). */
    void forget(int seq) {
        if (seq >= 0 && seq < maxSequences) synced[seq] = 0;
    }
}

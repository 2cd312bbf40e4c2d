package qwenchat.engine.kv;

import java.util.Arrays;

/**
 * One sequence's KV blocks in position order and its token count: position {@code p} lives in
 * block {@code block(p) = blocks[p / blockSize]} at slot {@code p % blockSize}. Read by the
 * engines' attention; changed only by {@link KvBlockManager}.
 */
public final class BlockTable {

    private final int blockSize;
    private int[] blocks = new int[4];
    private int blockCount;
    private int length;
    // For the prefix cache: the tokens of the block being filled, and the name of the last full one.
    private final int[] partial;
    private BlockHash lastFull = BlockHash.ROOT;
    // False once tokens were appended by count alone: its later blocks cannot be named.
    private boolean named = true;

    BlockTable(int blockSize) {
        this.blockSize = blockSize;
        this.partial = new int[blockSize];
    }

    /** Tokens held. */
    public int length() {
        return length;
    }

    public int blockCount() {
        return blockCount;
    }

    public int blockSize() {
        return blockSize;
    }

    /** The block that holds position {@code position}. */
    public int block(int position) {
        if (position < 0 || position >= blockCount * blockSize) {
            throw new IndexOutOfBoundsException("position " + position + " is outside the "
                    + blockCount * blockSize + " tokens this sequence's blocks hold");
        }
        return blocks[position / blockSize];
    }

    /** The slot of {@code position} within its block. */
    public int offset(int position) {
        return position % blockSize;
    }

    /** The block ids in position order, a copy. */
    public int[] blockIds() {
        return Arrays.copyOf(blocks, blockCount);
    }

    void addBlock(int id) {
        if (blockCount == blocks.length) blocks = Arrays.copyOf(blocks, blocks.length * 2);
        blocks[blockCount++] = id;
    }

    void setLength(int tokens) {
        length = tokens;
    }

    int blockAt(int index) {
        return blocks[index];
    }

    void clear() {
        blockCount = 0;
        length = 0;
        lastFull = BlockHash.ROOT;
        named = true;
    }

    int[] partial() {
        return partial;
    }

    BlockHash lastFull() {
        return lastFull;
    }

    void lastFull(BlockHash hash) {
        lastFull = hash;
    }

    boolean named() {
        return named;
    }

    void unnamed() {
        named = false;
    }
}

package qwenchat.engine.cpu;

import qwenchat.engine.kv.BlockTable;

/**
 * The CPU engine's KV memory: per layer a pool of blocks laid out like the CUDA engine's, each
 * block {@code [kvHeads][blockSize][headDim]} float32. A block's arrays are allocated the first
 * time it is handed out and kept for reuse, so host memory follows the high-water mark of tokens
 * actually held, never the pool's nominal size.
 */
final class PagedKvStore {

    private final int kvHeads;
    private final int headDim;
    private final int blockSize;
    private final float[][][] keys;   // [layers][totalBlocks][kvHeads*blockSize*headDim], null until first use
    private final float[][][] values; // [layers][totalBlocks][kvHeads*blockSize*headDim], null until first use
    private int allocatedBlocks;

    PagedKvStore(int layers, int kvHeads, int headDim, int blockSize, int totalBlocks) {
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.blockSize = blockSize;
        this.keys = new float[layers][totalBlocks][];
        this.values = new float[layers][totalBlocks][];
    }

    /** Writes one token's keys and values ({@code [kvHeads*headDim]} each) at {@code position}. */
    void write(int layer, BlockTable table, int position, float[] k, float[] v) {
        int block = table.block(position);
        if (keys[layer][block] == null) allocate(block);
        float[] kb = keys[layer][block];
        float[] vb = values[layer][block];
        int slot = table.offset(position);
        for (int h = 0; h < kvHeads; h++) {
            int at = (h * blockSize + slot) * headDim;
            System.arraycopy(k, h * headDim, kb, at, headDim);
            System.arraycopy(v, h * headDim, vb, at, headDim);
        }
    }

    /** Keys of one block of one layer, {@code [kvHeads][blockSize][headDim]}. */
    float[] keyBlock(int layer, int block) {
        return keys[layer][block];
    }

    /** Values of one block of one layer, {@code [kvHeads][blockSize][headDim]}. */
    float[] valueBlock(int layer, int block) {
        return values[layer][block];
    }

    /** Where head {@code kvHead}'s row for slot 0 starts within a block. */
    int headOffset(int kvHead) {
        return kvHead * blockSize * headDim;
    }

    int blockSize() {
        return blockSize;
    }

    long bytes() {
        return 2L * keys.length * allocatedBlocks * kvHeads * blockSize * headDim * Float.BYTES;
    }

    private void allocate(int block) {
        // All layers at once: a block handed out is filled in every layer by the same token.
        int size = kvHeads * blockSize * headDim;
        for (int l = 0; l < keys.length; l++) {
            keys[l][block] = new float[size];
            values[l][block] = new float[size];
        }
        allocatedBlocks++;
    }
}

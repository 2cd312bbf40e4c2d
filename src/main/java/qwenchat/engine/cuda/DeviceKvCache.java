package qwenchat.engine.cuda;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import qwenchat.model.ModelConfig;

/**
 * The paged KV cache on the device: per layer one K and one V pool of {@code totalBlocks} blocks,
 * and one block table that maps each sequence's positions onto them. Which block belongs to which
 * sequence is decided on the host by {@code KvBlockManager}; this class only mirrors its block ids
 * into the device table before each step ({@link #syncTable}) so the kernels can follow them.
 *
 * <p>The head sits outside the slot in a block ([block][kvHead][slot][headDim]) so one head's
 * keys of a block are one dense run of {@code blockSize * headDim} values, which is what the
 * attention kernels stream. The table and the pools are allocated once at load and never move, so
 * CUDA graphs captured with their addresses stay valid while the table's contents change.
 */
final class DeviceKvCache implements AutoCloseable {
    final int blockSize;
    final int totalBlocks;
    final int maxSequences;
    final int maxBlocksPerSeq;
    final List<DeviceBuffer> k = new ArrayList<>(); // per layer: [totalBlocks][kvHeads][blockSize][headDim] bf16
    final List<DeviceBuffer> v = new ArrayList<>(); // per layer: same layout as k
    final DeviceBuffer blockTable;                  // int32 [maxSequences][maxBlocksPerSeq]
    /** Staging for table uploads (pinned, so they are asynchronous on the engine's stream), laid out as the table. */
    private final PinnedBuffer staging;
    private final BlockTableMirror mirror;
    private final CudaKernels.PagedKv paged;

    /** Bytes one block takes over all layers, K and V. */
    static long blockBytes(ModelConfig c, int blockSize) {
        return 2L * c.numHiddenLayers() * poolBlockBytes(c, blockSize);
    }

    /** Bytes of one block in one layer's K (or V) pool. */
    static long poolBlockBytes(ModelConfig c, int blockSize) {
        return (long) c.numKeyValueHeads() * blockSize * c.headDim() * 2;
    }

    /** Device bytes of the pools for {@code totalBlocks} blocks (the table is counted by {@link #tableBytes}). */
    static long totalBytes(ModelConfig c, int blockSize, int totalBlocks) {
        return blockBytes(c, blockSize) * totalBlocks;
    }

    static long tableBytes(int maxSequences, int maxBlocksPerSeq) {
        return 4L * maxSequences * maxBlocksPerSeq;
    }

    DeviceKvCache(ModelConfig c, int blockSize, int totalBlocks, int maxSequences, int maxBlocksPerSeq) {
        if (blockSize < 1) throw new IllegalArgumentException("KV block size must be >= 1 token, got " + blockSize);
        if (totalBlocks < 1) throw new IllegalArgumentException("the KV pool needs >= 1 block, got " + totalBlocks);
        if ((long) maxSequences * maxBlocksPerSeq > Integer.MAX_VALUE / 4) {
            throw new IllegalArgumentException("KV block table of " + maxSequences + " x " + maxBlocksPerSeq
                    + " entries exceeds " + Integer.MAX_VALUE / 4 + "; raise the block size");
        }
        this.blockSize = blockSize;
        this.totalBlocks = totalBlocks;
        this.maxSequences = maxSequences;
        this.maxBlocksPerSeq = maxBlocksPerSeq;
        this.mirror = new BlockTableMirror(maxSequences, maxBlocksPerSeq, totalBlocks);
        long side = poolBlockBytes(c, blockSize) * totalBlocks;
        DeviceBuffer table = null;
        PinnedBuffer host = null;
        try {
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                k.add(DeviceBuffer.allocate("kv pool K layer " + l, side));
                v.add(DeviceBuffer.allocate("kv pool V layer " + l, side));
            }
            table = DeviceBuffer.allocate("kv block table", tableBytes(maxSequences, maxBlocksPerSeq));
            // Entries past a sequence's length are never read, but block 0 keeps a stray read in bounds.
            table.zero();
            host = PinnedBuffer.allocate(tableBytes(maxSequences, maxBlocksPerSeq));
        } catch (RuntimeException e) {
            if (table != null) table.close();
            closePools();
            throw e;
        }
        this.blockTable = table;
        this.staging = host;
        this.paged = new CudaKernels.PagedKv(blockTable.ptr(), maxBlocksPerSeq, blockSize);
    }

    CudaKernels.PagedKv paged() {
        return paged;
    }

    /** The device address of sequence {@code seq}'s table row (what prefill attention takes). */
    CUdeviceptr tableRow(int seq) {
        return blockTable.at(4L * seq * maxBlocksPerSeq);
    }

    /**
     * Makes the device row of {@code seq} hold {@code blockIds}, uploading only the entries from the
     * first one that differs from what the device already has (a decode step usually changes nothing
     * or appends one block). Asynchronous on {@code stream}: the caller must not call this again for
     * the same sequence before the stream has passed the copy (the engine synchronises every step).
     */
    void syncTable(int seq, int[] blockIds, CUstream stream) {
        int first = mirror.update(seq, blockIds);
        if (first == blockIds.length) return;
        ByteBuffer b = staging.buffer();
        int row = seq * maxBlocksPerSeq;
        for (int i = first; i < blockIds.length; i++) b.putInt(4 * (row + i), blockIds[i]);
        long at = 4L * (row + first);
        blockTable.copyFromHostAsync(staging.pointer().withByteOffset(at), at, 4L * (blockIds.length - first), stream);
    }

    /** Forgets what the device row of {@code seq} holds (the sequence was freed; its blocks may go elsewhere). */
    void forget(int seq) {
        mirror.forget(seq);
    }

    private void closePools() {
        for (DeviceBuffer b : k) b.close();
        for (DeviceBuffer b : v) b.close();
    }

    @Override
    public void close() {
        closePools();
        if (blockTable != null) blockTable.close();
        if (staging != null) staging.close();
    }
}

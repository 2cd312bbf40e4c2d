package qwenchat.engine.cuda;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * A paged KV layout for kernel tests, the host twin of {@link DeviceKvCache}: pools
 * [totalBlocks][kvHeads][blockSize][headDim] and a block table [sequences][maxBlocksPerSeq] whose
 * rows list shuffled, non-contiguous block ids, with spare blocks no sequence owns interleaved so a
 * kernel that strays reads data the reference never uses.
 */
final class PagedLayout {
    final int blockSize;
    final int kvHeads;
    final int headDim;
    final int maxBlocksPerSeq;
    final int totalBlocks;
    final int[][] blocks; // per sequence, in position order

    private PagedLayout(int blockSize, int kvHeads, int headDim, int maxBlocksPerSeq, int totalBlocks, int[][] blocks) {
        this.blockSize = blockSize;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.maxBlocksPerSeq = maxBlocksPerSeq;
        this.totalBlocks = totalBlocks;
        this.blocks = blocks;
    }

    /** Sequence i holds lengths[i] tokens in blocks drawn at random from a pool with {@code spare} extra blocks. */
    static PagedLayout shuffled(Random r, int[] lengths, int blockSize, int kvHeads, int headDim, int spare) {
        int need = 0;
        int widest = 1;
        for (int len : lengths) {
            int b = (len + blockSize - 1) / blockSize;
            need += b;
            widest = Math.max(widest, b);
        }
        int total = need + spare;
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < total; i++) ids.add(i);
        Collections.shuffle(ids, r);
        int[][] blocks = new int[lengths.length][];
        int at = 0;
        for (int s = 0; s < lengths.length; s++) {
            blocks[s] = new int[(lengths[s] + blockSize - 1) / blockSize];
            for (int j = 0; j < blocks[s].length; j++) blocks[s][j] = ids.get(at++);
        }
        return new PagedLayout(blockSize, kvHeads, headDim, widest, total, blocks);
    }

    long poolElements() {
        return (long) totalBlocks * kvHeads * blockSize * headDim;
    }

    /** Element offset of (sequence, kv head, position, dim 0) in a pool. */
    long offset(int seq, int kvh, int pos) {
        int blk = blocks[seq][pos / blockSize];
        return (((long) blk * kvHeads + kvh) * blockSize + pos % blockSize) * headDim;
    }

    /** The device block table, row-major [sequences][maxBlocksPerSeq]; unused entries -1 (a stray read would fault). */
    int[] table() {
        int[] t = new int[blocks.length * maxBlocksPerSeq];
        java.util.Arrays.fill(t, -1);
        for (int s = 0; s < blocks.length; s++) System.arraycopy(blocks[s], 0, t, s * maxBlocksPerSeq, blocks[s].length);
        return t;
    }

    /**
     * The reference the decode attention kernels are held to, in double: row b's query (q f32
     * [rows][heads*headDim], RoPE applied) attends to positions 0..pos[b] of sequence slots[b] in
     * the pools kc/vc laid out by this layout, softmax(q.k * scale) v, GQA with heads/kvHeads query
     * heads per KV head. Returns [rows][heads*headDim].
     */
    double[] attention(float[] q, float[] kc, float[] vc, int[] slots, int[] pos, int heads, double scale) {
        int rows = slots.length;
        int hd = headDim;
        int qDim = heads * hd;
        int group = heads / kvHeads;
        double[] want = new double[rows * qDim];
        for (int b = 0; b < rows; b++) {
            int len = pos[b] + 1;
            for (int h = 0; h < heads; h++) {
                int kvh = h / group;
                double[] s = new double[len];
                double m = Double.NEGATIVE_INFINITY;
                for (int t = 0; t < len; t++) {
                    long base = offset(slots[b], kvh, t);
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += (double) q[b * qDim + h * hd + i] * kc[(int) (base + i)];
                    s[t] = d * scale;
                    m = Math.max(m, s[t]);
                }
                double sum = 0;
                for (int t = 0; t < len; t++) sum += s[t] = Math.exp(s[t] - m);
                for (int i = 0; i < hd; i++) {
                    double o = 0;
                    for (int t = 0; t < len; t++) o += s[t] * vc[(int) (offset(slots[b], kvh, t) + i)];
                    want[b * qDim + h * hd + i] = o / sum;
                }
            }
        }
        return want;
    }
}

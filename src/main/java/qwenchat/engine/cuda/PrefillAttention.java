package qwenchat.engine.cuda;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * Causal flash attention over a whole prompt chunk (src/main/cuda/prefill_attention.cu): new token i
 * sits at position past + i and attends to cache positions 0..past+i, query head h to KV head
 * h / (qHeads / kvHeads), softmax(q·k / sqrt(128)) in f32, bf16 in and out. K and V are read from
 * the paged pools through the sequence's block table row. The chunk's own K/V (after RoPE) must
 * already be in the pools. Call on the context's worker thread.
 */
public final class PrefillAttention {
    public static final int HEAD_DIM = 128;
    static final String KERNEL = "prefill_attention_causal_hd128";
    static final int ROWS_PER_BLOCK = 64;
    static final int THREADS = 128;
    static final int SHARED_BYTES = 81920;

    /**
     * Element strides (bf16 elements, each a multiple of 8) of the query and output operands:
     * q(i, h, d) = q[i*qToken + h*qHead + d], out(i, h, d) = out[i*outToken + h*outHead + d].
     */
    public record Strides(int qToken, int qHead, int outToken, int outHead) {
        public Strides {
            int[] all = {qToken, qHead, outToken, outHead};
            String[] names = {"qToken", "qHead", "outToken", "outHead"};
            for (int i = 0; i < all.length; i++) {
                if (all[i] < 0 || all[i] % 8 != 0) {
                    throw new IllegalArgumentException("prefill attention stride " + names[i] + " must be a non-negative multiple of 8 elements, got " + all[i]);
                }
            }
        }

        /** Q as a column slice of the fused qkv rows [tokens][(qHeads + 2*kvHeads) * 128], output [tokens][qHeads * 128]. */
        public static Strides fusedQkv(int qHeads, int kvHeads) {
            return new Strides((qHeads + 2 * kvHeads) * HEAD_DIM, HEAD_DIM, qHeads * HEAD_DIM, HEAD_DIM);
        }
    }

    /**
     * Whether the grid puts the query heads on x, which the block scheduler walks first: every head's
     * longest query block starts before any shorter one, so a causal launch ends on short blocks.
     */
    static final boolean HEADS_FASTEST = true;

    private final KernelModule module;
    private final Launcher launcher;
    private final boolean headsFastest;
    private boolean sharedRaised;

    public PrefillAttention(KernelModule module, CUstream stream) {
        this(module, stream, HEADS_FASTEST);
    }

    /** With the grid's block order chosen ({@link #HEADS_FASTEST}), for the benchmark to compare both; the same results either way. */
    PrefillAttention(KernelModule module, CUstream stream, boolean headsFastest) {
        this.module = module;
        this.launcher = new Launcher(module, stream);
        this.headsFastest = headsFastest;
    }

    static void checkShape(int tokens, int past, int qHeads, int kvHeads) {
        if (tokens < 1) throw new IllegalArgumentException("prefill attention: tokens must be >= 1, got " + tokens);
        if (past < 0) throw new IllegalArgumentException("prefill attention: past must be >= 0, got " + past);
        if (kvHeads < 1 || qHeads < kvHeads || qHeads % kvHeads != 0) {
            throw new IllegalArgumentException("prefill attention: qHeads (" + qHeads + ") must be a positive multiple of kvHeads (" + kvHeads + ")");
        }
    }

    /** Query blocks of a chunk: one per 64 query rows (per query head). */
    static int blocksX(int tokens) {
        return (tokens + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
    }

    /**
     * @param k this layer's K pool [totalBlocks][kvHeads][blockSize][128]; the sequence's positions
     *     0..past+tokens-1 filled
     * @param v this layer's V pool, same layout as k
     * @param blockTableRow the sequence's row of the device block table (int32, its blocks in position order)
     */
    public void causal(CUdeviceptr q, CUdeviceptr k, CUdeviceptr v, CUdeviceptr blockTableRow, int blockSize, CUdeviceptr out,
                       Strides s, int tokens, int past, int qHeads, int kvHeads) {
        checkShape(tokens, past, qHeads, kvHeads);
        if (blockSize < 1) throw new IllegalArgumentException("prefill attention: block size must be >= 1, got " + blockSize);
        if (!sharedRaised) {
            module.allowDynamicShared(KERNEL, SHARED_BYTES);
            sharedRaised = true;
        }
        int blocks = blocksX(tokens);
        launcher.launch(KERNEL, headsFastest ? qHeads : blocks, headsFastest ? blocks : qHeads, 1, THREADS, SHARED_BYTES, q,
                s.qToken(), s.qHead(), k, v, blockTableRow, blockSize, out, s.outToken(), s.outHead(), tokens, past, qHeads,
                kvHeads, (float) (1.0 / Math.sqrt(HEAD_DIM)), headsFastest ? 1 : 0);
    }
}

package qwenchat.engine.cuda;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * Causal flash attention over a whole prompt chunk (src/main/cuda/prefill_attention.cu): new token i
 * sits at position past + i and attends to cache positions 0..past+i, query head h to KV head
 * h / (qHeads / kvHeads), softmax(q·k / sqrt(128)) in f32, bf16 in and out. K and V are read from
 * the paged pools through the sequence's block table row. The chunk's own K/V (after RoPE) must
 * already be in the pools. Call inside {@link CudaContext#call}.
 */
public final class PrefillAttention {
    public static final int HEAD_DIM = 128;

    /**
     * Which kernel runs. All give every output bit for bit the same (each row goes through the same
     * operations in the same order); they differ in speed. Shared bytes: the block's Q tile plus its
     * 64-key K and V tiles (double-buffered, or {@link #WGMMA}'s ring of stages), 256-byte rows.
     */
    public enum Tile {
        /** 16 rows a warp, 64 a block: every warp reads the whole K and V tile for its 16 rows. */
        ROWS16("prefill_attention_causal_hd128", 64, 81920, 128),
        /**
         * 32 rows a warp as two 16-row MMA tiles, 128 a block: each K and V fragment read from shared
         * memory feeds both, about 5/8 of ROWS16's shared-memory reads per FLOP. On an H100 at 28/4
         * heads: 1.43 ms a layer against 2.03 at 8K tokens, 0.108 against 0.148 at 2K, but 0.051
         * against 0.043 at 1K, where half as many blocks leave SMs idle at the end of the launch.
         */
        ROWS32("prefill_attention_causal_hd128_m32", 128, 98304, 128),
        /**
         * Hopper's warpgroup MMAs (prefill_attention_sm90.cu, compute capability 9.0 only): 128 rows a
         * block, one warpgroup loading K and V into a ring of {@link #WGMMA_STAGES} stages while two
         * compute 64 rows each, Q and K read by the tensor cores straight from shared memory; each
         * issues the next tile's S = Q.K^T before this tile's P.V, so its softmax overlaps its MMAs.
         * Whole 64-key tiles of a pool whose block size is a multiple of 64 are copied from addresses
         * worked out once a block. On an H100 at 28/4 heads, unit-normal operands, with the turns of
         * {@link #WGMMA_PINGPONG}: 0.95 to 0.97 ms a layer at 8K tokens, 1.37 when every copy looked its
         * key up in the block table (ROWS32 took 1.48 on zero operands in the same run).
         */
        WGMMA("prefill_attention_causal_hd128_wgmma", 128, 1024 + 128 * 256 + WGMMA_STAGES * 2 * 64 * 256 + 256, 384),
        /**
         * {@link #WGMMA} with its two computing warpgroups taking turns to issue their MMAs (named
         * barriers), so that one's softmax runs while the other's MMAs do; the same bits.
         */
        WGMMA_PINGPONG("prefill_attention_causal_hd128_wgmma_pp", 128, WGMMA.sharedBytes, 384);

        /** Whether this tile runs Hopper's warpgroup MMAs (compute capability 9.0 only). */
        public boolean wgmma() {
            return this == WGMMA || this == WGMMA_PINGPONG;
        }

        final String kernel;
        final int rowsPerBlock;
        final int sharedBytes;
        final int threads;

        Tile(String kernel, int rowsPerBlock, int sharedBytes, int threads) {
            this.kernel = kernel;
            this.rowsPerBlock = rowsPerBlock;
            this.sharedBytes = sharedBytes;
            this.threads = threads;
        }
    }

    /**
     * The warpgroup tile of {@link Tiles#DEFAULT} on compute capability 9.0. On an H100, one layer at 8K
     * tokens, before the loader copied whole tiles: 1313.9 us with the turns against 1326.3 without
     * (zero operands), 1334.6 against 1340.1 on unit-normal ones; in the 8K prompt's pass 1743.6 us a
     * layer against 1772.1.
     */
    static final Tile DEFAULT_WARPGROUP_TILE = Tile.WGMMA_PINGPONG;

    /** K/V stages of {@link Tile#WGMMA}'s ring: STAGES in prefill_attention_sm90.cu. */
    static final int WGMMA_STAGES = 4;

    /**
     * Which tile a chunk takes: on compute capability 9.0, {@code warpgroupTile} ({@link Tile#WGMMA} or
     * {@link Tile#WGMMA_PINGPONG}) from {@code wgmmaFrom} new tokens up; else {@link Tile#ROWS32} from
     * {@code rows32From} up, and {@link Tile#ROWS16} below.
     * All give the same bits, so the choice is speed only: the 128-row tiles make fewer blocks, too
     * few to keep every SM busy to the end of a short chunk.
     */
    public record Tiles(int rows32From, int wgmmaFrom, Tile warpgroupTile) {
        /**
         * On an H100 with 28 query heads: ROWS32 took 1.43 against 2.03 ms at 8K tokens, 0.108 against
         * 0.148 at 2K, 0.051 against 0.043 at 1K; WGMMA 1.33 ms at 8K and 0.035 at 1K (ROWS16 0.042).
         */
        public static final Tiles DEFAULT = new Tiles(2048, 1024, DEFAULT_WARPGROUP_TILE);

        public Tiles {
            if (rows32From < 1) throw new IllegalArgumentException("prefill attention tiles: rows32From must be >= 1, got " + rows32From);
            if (wgmmaFrom < 1) throw new IllegalArgumentException("prefill attention tiles: wgmmaFrom must be >= 1, got " + wgmmaFrom);
            if (warpgroupTile == null || !warpgroupTile.wgmma()) {
                throw new IllegalArgumentException("prefill attention tiles: the warpgroup tile must be a wgmma one, got " + warpgroupTile);
            }
        }

        /** These thresholds with the default warpgroup tile. */
        public Tiles(int rows32From, int wgmmaFrom) {
            this(rows32From, wgmmaFrom, DEFAULT_WARPGROUP_TILE);
        }

        /** Every chunk on {@code tile} (where the card has it: {@link Tile#WGMMA} needs compute capability 9.0). */
        public static Tiles only(Tile tile) {
            return switch (tile) {
                case ROWS16 -> new Tiles(Integer.MAX_VALUE, Integer.MAX_VALUE);
                case ROWS32 -> new Tiles(1, Integer.MAX_VALUE);
                case WGMMA -> new Tiles(Integer.MAX_VALUE, 1, Tile.WGMMA);
                case WGMMA_PINGPONG -> new Tiles(Integer.MAX_VALUE, 1, Tile.WGMMA_PINGPONG);
            };
        }

        /** The tile of a {@code tokens}-token chunk on a card with ({@code wgmma}) or without Hopper's MMAs. */
        public Tile forTokens(int tokens, boolean wgmma) {
            if (wgmma && tokens >= wgmmaFrom) return warpgroupTile;
            return tokens >= rows32From ? Tile.ROWS32 : Tile.ROWS16;
        }
    }

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
    private final boolean wgmma;
    private final Tiles tiles;
    /** Per tile: whether its kernel's shared-memory limit has been raised. */
    private final boolean[] sharedRaised = new boolean[Tile.values().length];

    /**
     * The engine's attention: heads on the grid's x, each chunk on {@code tiles}' choice.
     *
     * @param wgmma whether the card runs the sm_90a kernels ({@link PrefillGemm#usesWgmma})
     */
    public PrefillAttention(KernelModule module, CUstream stream, boolean wgmma, Tiles tiles) {
        this(module, stream, HEADS_FASTEST, wgmma, tiles);
    }

    /** Every chunk on {@code tile}, for tests and the benchmark to compare them; the same results either way. */
    PrefillAttention(KernelModule module, CUstream stream, Tile tile) {
        this(module, stream, HEADS_FASTEST, tile);
    }

    /** Every chunk on {@code tile} with the grid's block order chosen ({@link #HEADS_FASTEST}); the same results either way. */
    PrefillAttention(KernelModule module, CUstream stream, boolean headsFastest, Tile tile) {
        this(module, stream, headsFastest, tile.wgmma(), Tiles.only(tile));
    }

    PrefillAttention(KernelModule module, CUstream stream, boolean headsFastest, boolean wgmma, Tiles tiles) {
        this.module = module;
        this.launcher = new Launcher(module, stream);
        this.headsFastest = headsFastest;
        this.wgmma = wgmma;
        this.tiles = tiles;
    }

    static void checkShape(int tokens, int past, int qHeads, int kvHeads) {
        if (tokens < 1) throw new IllegalArgumentException("prefill attention: tokens must be >= 1, got " + tokens);
        if (past < 0) throw new IllegalArgumentException("prefill attention: past must be >= 0, got " + past);
        if (kvHeads < 1 || qHeads < kvHeads || qHeads % kvHeads != 0) {
            throw new IllegalArgumentException("prefill attention: qHeads (" + qHeads + ") must be a positive multiple of kvHeads (" + kvHeads + ")");
        }
    }

    /** Query blocks of a chunk (per query head): one per {@link Tile#rowsPerBlock} query rows. */
    static int blocksX(int tokens, Tile tile) {
        return (tokens + tile.rowsPerBlock - 1) / tile.rowsPerBlock;
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
        Tile tile = tiles.forTokens(tokens, wgmma);
        if (!sharedRaised[tile.ordinal()]) {
            module.allowDynamicShared(tile.kernel, tile.sharedBytes);
            sharedRaised[tile.ordinal()] = true;
        }
        int blocks = blocksX(tokens, tile);
        launcher.launch(tile.kernel, headsFastest ? qHeads : blocks, headsFastest ? blocks : qHeads, 1, tile.threads, tile.sharedBytes, q,
                s.qToken(), s.qHead(), k, v, blockTableRow, blockSize, out, s.outToken(), s.outHead(), tokens, past, qHeads,
                kvHeads, (float) (1.0 / Math.sqrt(HEAD_DIM)), headsFastest ? 1 : 0);
    }
}

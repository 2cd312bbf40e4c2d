package qwenchat.engine.cuda;

/**
 * How many warps share a weight-row pair of a batch-1..8 GEMV (gemv.cu's {@code _ks} kernels): the
 * one rule for its K split. At batch 1 a warp's loads for its pair are all it can have in flight, so
 * the 7B's matrices of 1,792 to 2,304 pairs (qkv, o_proj, down_proj) leave the card short of warps.
 * Four warps a pair, each taking every fourth 32-word stretch of K, quadruple the warps without
 * changing what is read. The split depends on the matrix and the launch shape only, never on the
 * batch, so a row's sums have the same order at every batch width up to 8.
 */
final class GemvShape {
    /** Warps per pair when splitting: the largest compiled split (the {@code _ks4} kernels). */
    static final int MAX_SPLIT = 4;
    /** Largest batch tile compiled with split variants (bt1..bt8); wider tiles have warps enough. */
    static final int MAX_SPLIT_TILE = 8;

    private GemvShape() {
    }

    /**
     * Warps per weight-row pair: 4, or 2 where the block's warps or K allow no more, keeping at least
     * two 16-byte words of K per lane; 1 when splitting is off or the tile is wider than
     * {@link #MAX_SPLIT_TILE}.
     *
     * @param kWords 16-byte words per weight row (K / 8)
     * @param tile the launch's batch tile
     * @param warpsPerBlock warps of the launch's blocks (a split must divide it)
     * @param on whether the engine splits ({@link DecodeKernels#splitGemv})
     */
    static int splitsK(int kWords, int tile, int warpsPerBlock, boolean on) {
        if (!on || tile > MAX_SPLIT_TILE) return 1;
        int ks = 1;
        while (ks < MAX_SPLIT && warpsPerBlock % (2 * ks) == 0 && kWords >= 2 * 32 * 2 * ks) ks *= 2;
        return ks;
    }
}

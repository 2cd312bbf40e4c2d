package qwenchat.engine.cuda;

/**
 * How a pass's split attention cuts its rows' keys: every row into spans of {@code span} tokens (a
 * power-of-two multiple of {@link #TILE}), one block per span and KV head, with {@code grid} spans
 * launched per row (enough for the longest). {@code direct}: every row is one span, and the
 * tensor-core partial kernel writes the finished rows itself (no {@code attn_combine}).
 *
 * <p>Why spans longer than a tile: a 64-token block pays a fixed cost (its q rows, the cross-warp
 * merge, its partials written and read back by the combine) that wide batches, which have blocks to
 * spare, need not pay 16 times a row at 1K context. Narrow passes keep 64-token blocks, as many as
 * there are, to have loads in flight. With {@link DecodeKernels#directShortRows}, a pass of short rows
 * goes as one block a row whatever its width, which saves the combine's launch.
 *
 * <p>A row's span depends on its batch mates (the pass's width and longest row), so with batch
 * invariance, and with the kernels that only take one tile, every span is one tile.
 */
record AttentionSplits(int span, int grid, boolean direct) {
    /** Tokens a block's warps take at a time (limits::ATTN_SPLIT). */
    static final int TILE = CudaKernels.ATTN_SPLIT;
    /**
     * Rows up to this long go as one block a row and KV head, whatever the pass's width, where
     * {@link DecodeKernels#directShortRows} is on (see its default for what was measured).
     */
    static final int DIRECT_MAX_TOKENS = 512;
    /** Longest span: one block's tiles run one after another. */
    static final int MAX_SPAN = 4096;
    /**
     * Blocks a launch keeps per multiprocessor while its spans grow. One layer on an H100 ran fastest
     * with the longest span that still left a block on every multiprocessor: at 1K context 53.8 us in
     * 1024-token spans against 63.8 in 256 for 64 sequences, 98.0 against 111.0 for 128; one row of
     * 8K 26.0 us in 128-token spans against 32.1 in 64. Four blocks each (a full wave of the kernel,
     * 128 registers a thread) kept spans shorter than that. In the engine at 1K context, against one-tile
     * blocks, four gained +1.6%, +2.6% and +11.7% at 64, 128 and 256 sequences; one gains +5.9%, +10.1%
     * and +12.4%.
     */
    static final int BLOCKS_PER_MULTIPROCESSOR = 1;

    AttentionSplits {
        if (span < TILE || span % TILE != 0 || Integer.bitCount(span / TILE) != 1) {
            throw new IllegalArgumentException("attention span must be a power-of-two multiple of " + TILE + " tokens, got "
                    + span);
        }
        if (grid < 1) throw new IllegalArgumentException("attention grid must be >= 1 span, got " + grid);
        if (direct && grid != 1) throw new IllegalArgumentException("a direct attention launch has one span a row, got " + grid);
    }

    /** One tile a block, combined by {@code attn_combine}: the only plan of the one-tile kernels. */
    static AttentionSplits tiles(int maxLength) {
        return new AttentionSplits(TILE, ceil(maxLength, TILE), false);
    }

    /** Whether the attention kernels {@code choice} launches take spans of several tiles and write finished rows. */
    static boolean kernelsTakeSpans(DecodeKernels choice) {
        return choice.mmaAttention() && !choice.fusedAttention();
    }

    /**
     * The plan for a pass of {@code rows} rows whose longest attends to {@code maxLength} positions
     * with the kernels of {@code choice}: spans of several tiles where they are switched on, the
     * kernels take them, and batch invariance is off; one tile a block otherwise.
     */
    static AttentionSplits plan(DecodeKernels choice, boolean batchInvariant, int rows, int kvHeads, int maxLength,
                                int multiprocessors) {
        boolean spans = choice.attentionSpans() && kernelsTakeSpans(choice) && !batchInvariant;
        return plan(spans, choice.directShortRows(), rows, kvHeads, maxLength, multiprocessors);
    }

    /** One launch of {@code span}-token blocks over rows up to {@code maxLength} long, direct where one span covers them and the kernels allow. */
    static AttentionSplits ofSpan(int span, int maxLength, DecodeKernels choice) {
        int grid = ceil(maxLength, span);
        return new AttentionSplits(span, grid, grid == 1 && kernelsTakeSpans(choice));
    }

    /**
     * The plan for a pass of {@code rows} rows whose longest attends to {@code maxLength} positions.
     *
     * @param spans whether blocks may take several tiles (the tensor-core kernel, batch invariance off)
     * @param directShortRows with {@code spans}, rows up to {@link #DIRECT_MAX_TOKENS} as one block a row
     */
    static AttentionSplits plan(boolean spans, boolean directShortRows, int rows, int kvHeads, int maxLength,
                                int multiprocessors) {
        if (maxLength < 1) throw new IllegalArgumentException("attention needs a length >= 1, got " + maxLength);
        if (!spans) return tiles(maxLength);
        int tiles = ceil(maxLength, TILE);
        if (directShortRows && maxLength <= DIRECT_MAX_TOKENS) {
            return new AttentionSplits(TILE * Integer.highestOneBit(2 * tiles - 1), 1, true);
        }
        long wanted = (long) BLOCKS_PER_MULTIPROCESSOR * multiprocessors;
        int span = TILE;
        while (span < MAX_SPAN && span < maxLength && (long) rows * kvHeads * ceil(maxLength, 2 * span) >= wanted) span *= 2;
        int grid = ceil(maxLength, span);
        return new AttentionSplits(span, grid, grid == 1);
    }

    /**
     * This plan with its grid rounded up to a power of two (at most {@code capacity} spans), for CUDA
     * graphs: a growing context then re-captures only log2(context) times.
     */
    AttentionSplits bucketed(int capacity) {
        if (grid == 1) return this;
        int bucket = Math.min(Integer.highestOneBit(grid - 1) << 1, capacity);
        return new AttentionSplits(span, Math.max(bucket, grid), false);
    }

    private static int ceil(int a, int b) {
        return (a + b - 1) / b;
    }
}

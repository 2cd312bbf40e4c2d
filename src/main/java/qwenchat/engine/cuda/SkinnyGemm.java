package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import java.util.HashSet;
import java.util.Set;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * Projections of decode batches with the weights as the tensor-core MMA's wide side
 * (src/main/cuda/skinny_gemm.cu), so a step streams the weights near the read bandwidth instead of
 * through the prefill GEMM's mostly padded 128-row tiles. Same operands and epilogue contracts as
 * {@link PrefillGemm}'s f32 and swiglu calls: a bf16 [m][k], weights bf16 [n][k], f32 accumulation.
 * Batch-invariant: one row's result is bit-identical whatever the other rows of the call and their
 * count (up to the partial buffer's row capacity; more than {@link #MAX_ROWS} run as batch tiles of
 * {@link #MAX_ROWS}), because the split-K count depends on (n, k, SM count) only and the parts are
 * summed in a fixed order by a reduce launch rather than with atomics. Call on the context's worker
 * thread.
 */
public final class SkinnyGemm {
    /** Activation rows of the widest batch tile; calls with more rows run several such tiles. */
    public static final int MAX_ROWS = 64;
    static final int TILE_W = 128;
    static final int TILE_K = 64;
    static final int THREADS = 256;
    static final int STAGES = 4;
    /** Blocks of this kernel one SM runs at once (its registers and shared memory allow two). */
    static final int BLOCKS_PER_SM = 2;
    /** Resident blocks on the 132-SM H200 the split choices were measured on. */
    static final int H200_RESIDENT_BLOCKS = 132 * BLOCKS_PER_SM;
    /** Fewest k-chunks per split-K part, so the 4-stage pipeline is not all ramp. */
    static final int MIN_CHUNKS_PER_SPLIT = 4;
    /**
     * SMs the split choice counts at most, so {@link #partialFloats} can size the partial buffer
     * before a device is open; a larger device splits as one of this size would.
     */
    static final int MAX_MULTIPROCESSORS = 160;
    static final int REDUCE_THREADS = 256;

    private final KernelModule module;
    private final Launcher launcher;
    private final Set<String> sharedRaised = new HashSet<>();
    private final int residentBlocks;
    private final CUdeviceptr partials;
    private final CUdeviceptr counters;
    private final int maxRows;

    /**
     * @param multiprocessors the device's SM count: split-K fills one wave of resident blocks
     * @param partials f32 scratch of at least {@link #partialFloats partialFloats(maxRows)} elements
     *     for the split-K parts
     * @param counters int scratch of {@link #counterInts counterInts(maxRows)} elements, all zero (the
     *     kernels leave them zero): each tile's last split-K part sums the parts. Null: a
     *     {@code skinny_splitk_reduce} launch after each split GEMM does, with the same result.
     * @param maxRows the most activation rows one call may pass
     */
    public SkinnyGemm(KernelModule module, CUstream stream, int multiprocessors, CUdeviceptr partials, CUdeviceptr counters,
                      int maxRows) {
        if (maxRows < 1) throw new IllegalArgumentException("skinny GEMM row capacity must be >= 1, got " + maxRows);
        this.module = module;
        this.launcher = new Launcher(module, stream);
        this.residentBlocks = residentBlocks(multiprocessors);
        this.partials = partials;
        this.counters = counters;
        this.maxRows = maxRows;
    }

    /**
     * Tile counters calls of up to {@code rows} rows need: one per (batch tile, weight tile) of a
     * split shape, and a shape splits only with at most residentBlocks / 2 weight tiles.
     */
    static long counterInts(int rows) {
        return (long) batchTiles(rows) * (residentBlocks(MAX_MULTIPROCESSORS) / 2);
    }

    /** Resident blocks the split choice fills on a device of {@code multiprocessors} SMs. */
    static int residentBlocks(int multiprocessors) {
        return Math.min(multiprocessors, MAX_MULTIPROCESSORS) * BLOCKS_PER_SM;
    }

    /**
     * f32 elements of split-K partials that calls of up to {@code rows} rows need on any device:
     * splits * n for a split shape is at most residentBlocks * TILE_W, since {@link #splits} gives
     * more than one part only when residentBlocks / tiles does.
     */
    static long partialFloats(int rows) {
        return (long) rows * residentBlocks(MAX_MULTIPROCESSORS) * TILE_W;
    }

    /** Batch tile (activation rows per kernel) for m rows: 16, 32, 48 or 64, and 64 above that. */
    static int batchTile(int m) {
        return Math.min(MAX_ROWS, (m + 15) / 16 * 16);
    }

    /** Batch tiles (grid.z of the f32 kernel, grid.y of swiglu) for m rows. */
    static int batchTiles(int m) {
        return (m + MAX_ROWS - 1) / MAX_ROWS;
    }

    static int sharedBytes(int nb) {
        return STAGES * (TILE_W + nb) * TILE_K * 2;
    }

    /** Split-K parts for an n-row weight over k: fill the resident blocks without a partial second wave. */
    static int splits(int n, int k, int residentBlocks) {
        int tiles = (n + TILE_W - 1) / TILE_W;
        int chunks = k / TILE_K;
        int s = Math.max(1, Math.min(residentBlocks / tiles, chunks / MIN_CHUNKS_PER_SPLIT));
        int per = (chunks + s - 1) / s;
        return (chunks + per - 1) / per;
    }

    static void checkShape(String op, int m, int n, int k, int maxRows) {
        if (m < 1 || m > maxRows) throw new IllegalArgumentException(op + ": row count m must be 1.." + maxRows + ", got " + m);
        if (n < 1) throw new IllegalArgumentException(op + ": output width n must be >= 1, got " + n);
        if (k < TILE_K || k % TILE_K != 0) {
            throw new IllegalArgumentException(op + ": inner dimension k must be a positive multiple of " + TILE_K + ", got " + k);
        }
    }

    /** out[r][j] = a[r] · w[j] in f32 (qkv before bias/RoPE, logits). */
    public void linearF32(CUdeviceptr a, CUdeviceptr w, int m, int n, int k, CUdeviceptr out) {
        checkShape("skinny f32 linear", m, n, k, maxRows);
        launchF32(a, w, out, m, n, k, 0);
    }

    /** x[r][j] += a[r] · w[j] in f32, in place: the o_proj and down_proj residual updates. */
    public void linearAddF32(CUdeviceptr a, CUdeviceptr w, int m, int n, int k, CUdeviceptr x) {
        checkShape("skinny residual linear", m, n, k, maxRows);
        launchF32(a, w, x, m, n, k, 1);
    }

    /** out[r][i] = silu(a[r] · gateUp[i]) * (a[r] · gateUp[intermediate + i]), bf16 [m][intermediate]. */
    public void swiglu(CUdeviceptr a, CUdeviceptr gateUp, int m, int intermediate, int k, CUdeviceptr out) {
        checkShape("skinny swiglu", m, intermediate, k, maxRows);
        int nb = batchTile(m);
        String name = "skinny_gemm_swiglu_nb" + nb;
        int blocks = (intermediate + TILE_W / 2 - 1) / (TILE_W / 2);
        raise(name, nb);
        launcher.launch(name, blocks, batchTiles(m), 1, THREADS, sharedBytes(nb), a, gateUp, out, m, intermediate, k);
    }

    private void launchF32(CUdeviceptr a, CUdeviceptr w, CUdeviceptr out, int m, int n, int k, int accumulate) {
        int splits = splits(n, k, residentBlocks);
        int nb = batchTile(m);
        String name = "skinny_gemm_f32_nb" + nb;
        int chunks = k / TILE_K;
        int per = (chunks + splits - 1) / splits;
        raise(name, nb);
        CUdeviceptr part = splits > 1 ? partials : new CUdeviceptr();
        CUdeviceptr count = splits > 1 && counters != null ? counters : new CUdeviceptr();
        launcher.launch(name, (n + TILE_W - 1) / TILE_W, splits, batchTiles(m), THREADS, sharedBytes(nb), a, w, out, part,
                count, m, n, k, accumulate, per);
        if (splits > 1 && counters == null) {
            long mn = (long) m * n;
            int blocks = (int) Math.min(4096, (mn + REDUCE_THREADS - 1) / REDUCE_THREADS);
            launcher.launch("skinny_splitk_reduce", blocks, 1, 1, REDUCE_THREADS, 0, partials, out, mn, splits, accumulate);
        }
    }

    private void raise(String name, int nb) {
        if (sharedRaised.add(name)) {
            module.allowDynamicShared(name, sharedBytes(nb));
            // Ask for the whole carveout as shared memory so two blocks fit on an SM.
            check(JCudaDriver.cuFuncSetAttribute(module.function(name),
                    CUfunction_attribute.CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, 100),
                    "cuFuncSetAttribute(" + name + ", PREFERRED_SHARED_MEMORY_CARVEOUT=100)");
        }
    }
}

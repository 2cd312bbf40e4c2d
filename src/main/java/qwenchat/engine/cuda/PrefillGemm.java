package qwenchat.engine.cuda;

import java.util.HashSet;
import java.util.Set;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * Prefill projections for many token rows at once: out = a · w^T with a fused epilogue, on tensor
 * cores (src/main/cuda/prefill_gemm.cu and prefill_gemm_sm90.cu say what each kernel computes and
 * measured speeds are in docs/prefill-kernels.md). On compute capability 9.0 it launches the Hopper
 * wgmma kernels, whose sm_90a code the build always emits; anywhere else those kernels would trap,
 * so it launches the portable mma.sync ones. Operands: a bf16 [m][k] row-major, weights bf16
 * [n][k] as in the checkpoint, f32 accumulation. Call inside {@link CudaContext#call}.
 */
public final class PrefillGemm {
    /** Rows of {@code a} one block covers; any m >= 1 works, the last tile is masked. */
    static final int TILE_M = 128;
    /** Up to this many rows the narrower wgmma tile wins (more blocks for a thin problem). */
    static final int SMALL_M = 64;

    /** One compiled kernel and how to launch it; tileN counts weight rows per block. */
    record Kernel(String name, int tileN, int threads, int sharedBytes, boolean swiglu) {
        /** 1-D grid: one block per 128-row by tileN-output tile (swiglu blocks emit tileN/2 columns). */
        long blocks(int m, int outColumns) {
            int outTile = swiglu ? tileN / 2 : tileN;
            return (long) ((m + TILE_M - 1) / TILE_M) * ((outColumns + outTile - 1) / outTile);
        }
    }

    static final Kernel MMA_PLAIN = new Kernel("prefill_gemm_bf16_bn128", 128, 256, 98304, false);
    static final Kernel MMA_SWIGLU = new Kernel("prefill_gemm_swiglu_bn128", 128, 256, 98304, true);
    static final Kernel WGMMA_NARROW = new Kernel("prefill_gemm_wgmma_bf16_bn128", 128, 256, 197632, false);
    static final Kernel WGMMA_PLAIN = new Kernel("prefill_gemm_wgmma_ws_bf16", 256, 384, 197888, false);
    static final Kernel WGMMA_SWIGLU = new Kernel("prefill_gemm_wgmma_ws_swiglu", 256, 384, 197888, true);
    /**
     * {@link #WGMMA_SWIGLU} with 144 gate and 144 up rows per tile: Qwen2.5-7B's 18944 outputs make 132
     * tiles a row of tiles, one wave on a 132-SM card where the 256-row tile's 148 take two.
     */
    static final Kernel WGMMA_SWIGLU_WIDE = new Kernel("prefill_gemm_wgmma_ws_swiglu_bn288", 288, 384, 214272, true);
    /** {@link #WGMMA_PLAIN} over a k-range per grid.y, writing f32 parts that {@link #FINISH} sums. */
    static final Kernel WGMMA_PLAIN_SPLIT = new Kernel("prefill_gemm_wgmma_ws_bf16_splitk", 256, 384, 197888, false);
    static final String FINISH = "prefill_splitk_finish";
    static final int FINISH_THREADS = 256;
    /**
     * {@link #WGMMA_PLAIN} for the fused q/k/v projection with rope_store.cu's epilogue in place of its
     * store ({@link #qkvRope}), one kernel per head dim a 256-column tile holds whole.
     */
    static final Kernel WGMMA_QKV_ROPE_64 = new Kernel("prefill_gemm_wgmma_ws_qkv_rope_hd64", 256, 384, 197888, false);
    static final Kernel WGMMA_QKV_ROPE_128 = new Kernel("prefill_gemm_wgmma_ws_qkv_rope_hd128", 256, 384, 197888, false);
    /** k per pipeline stage of the wgmma kernels. */
    static final int TILE_K = 64;
    /** Fewest k-tiles per split-K part, so the 4-stage pipeline is not all ramp. */
    static final int MIN_K_TILES_PER_SPLIT = 4;
    /**
     * SMs the split choice counts at most, so {@link #partialFloats()} can size the part buffer before
     * a device is open; a larger device splits as one of this size would.
     */
    static final int MAX_MULTIPROCESSORS = 160;

    private final KernelModule module;
    private final Launcher launcher;
    private final boolean wgmma;
    private final boolean oneKernel;
    private final int multiprocessors;
    private final CUdeviceptr partials;
    private final Set<String> sharedRaised = new HashSet<>();

    /**
     * Picks the kernel family for the device's compute capability ("major.minor").
     *
     * Plain projections whose 128 x 256 tiles leave SMs idle (decode-width passes) are split over k,
     * unless batch invariance is on: the split count depends on the row count.
     *
     * @param batchInvariant one kernel per operation whatever m (no narrow tile for m <= {@link #SMALL_M},
     *     no split-K), so a row's result does not depend on how many rows share its call: every kernel
     *     computes a row from that row and the weights alone, in a fixed k order
     * @param multiprocessors the device's SM count: split-K fills one wave of blocks, and the swiglu
     *     tile is chosen by it ({@link #swigluTile}); 0 keeps the 256-row swiglu tile
     * @param partials f32 scratch of at least {@link #partialFloats()} elements for the split-K parts;
     *     null: never split
     */
    public PrefillGemm(KernelModule module, CUstream stream, String computeCapability, boolean batchInvariant,
                       int multiprocessors, CUdeviceptr partials) {
        this(module, stream, usesWgmma(computeCapability), batchInvariant, multiprocessors, partials);
    }

    /** Tests use this to run the mma.sync family on a Hopper card too. */
    PrefillGemm(KernelModule module, CUstream stream, boolean wgmma) {
        this(module, stream, wgmma, false, 0, null);
    }

    PrefillGemm(KernelModule module, CUstream stream, boolean wgmma, boolean batchInvariant, int multiprocessors,
                CUdeviceptr partials) {
        this.module = module;
        this.launcher = new Launcher(module, stream);
        this.wgmma = wgmma;
        this.oneKernel = batchInvariant;
        this.multiprocessors = multiprocessors;
        this.partials = batchInvariant || !wgmma ? null : partials;
    }

    /** Whether plain projections may be split over k (wgmma, batch invariance off, a part buffer). */
    boolean splitsK() {
        return partials != null;
    }

    /**
     * f32 elements the split-K parts of any call need on any device: {@link #splits} gives s parts only
     * when s * tiles <= SMs, and tiles * 128 * 256 >= m * n, so s * m * n <= SMs * 128 * 256.
     */
    public static long partialFloats() {
        return (long) MAX_MULTIPROCESSORS * TILE_M * WGMMA_PLAIN.tileN();
    }

    /**
     * Split-K parts for an m x n x k plain projection: as many as fill one wave of one block per SM
     * (the kernel's shared memory allows one) next to the tiles, each with at least
     * {@link #MIN_K_TILES_PER_SPLIT} k-tiles, and no part left empty.
     */
    static int splits(int m, int n, int k, int multiprocessors) {
        long tiles = WGMMA_PLAIN.blocks(m, n);
        int kTiles = k / TILE_K;
        int sms = Math.min(multiprocessors, MAX_MULTIPROCESSORS);
        int s = (int) Math.max(1, Math.min(sms / tiles, kTiles / MIN_K_TILES_PER_SPLIT));
        int per = (kTiles + s - 1) / s;
        return (kTiles + per - 1) / per;
    }

    /** The wgmma kernels exist only as sm_90a machine code, which runs on compute capability 9.0 alone. */
    public static boolean usesWgmma(String computeCapability) {
        return "9.0".equals(computeCapability);
    }

    static Kernel choose(boolean wgmma, boolean swiglu, int m) {
        return choose(wgmma, swiglu, m, false);
    }

    /** @param oneKernel the same kernel for every m (batch-invariant passes) */
    static Kernel choose(boolean wgmma, boolean swiglu, int m, boolean oneKernel) {
        if (!wgmma) return swiglu ? MMA_SWIGLU : MMA_PLAIN;
        if (swiglu) return WGMMA_SWIGLU;
        return m <= SMALL_M && !oneKernel ? WGMMA_NARROW : WGMMA_PLAIN;
    }

    /**
     * The swiglu tile for {@code intermediate} outputs on {@code multiprocessors} SMs: of
     * {@link #WGMMA_SWIGLU} and {@link #WGMMA_SWIGLU_WIDE}, the one whose row of tiles takes the fewest
     * weight rows times waves (ties to the narrower). It depends on the model and the card alone, never
     * on the row count, so batch-invariant passes may take it too.
     */
    static Kernel swigluTile(int intermediate, int multiprocessors) {
        if (multiprocessors < 1) return WGMMA_SWIGLU;
        long narrow = waves(WGMMA_SWIGLU.blocks(1, intermediate), multiprocessors) * WGMMA_SWIGLU.tileN();
        long wide = waves(WGMMA_SWIGLU_WIDE.blocks(1, intermediate), multiprocessors) * WGMMA_SWIGLU_WIDE.tileN();
        return wide < narrow ? WGMMA_SWIGLU_WIDE : WGMMA_SWIGLU;
    }

    /** Whether this GEMM's swiglu for {@code intermediate} outputs takes the one-wave 288-row tile. */
    boolean hasOneWaveSwiglu(int intermediate) {
        return wgmma && swigluTile(intermediate, multiprocessors) == WGMMA_SWIGLU_WIDE;
    }

    private static long waves(long blocks, int multiprocessors) {
        return (blocks + multiprocessors - 1) / multiprocessors;
    }

    /** Rejects shapes the kernels cannot tile; the message names the operation and the bad dimension. */
    static void checkShape(String op, int m, int n, int k) {
        if (m < 1) throw new IllegalArgumentException(op + ": row count m must be >= 1, got " + m);
        if (n < 8 || n % 8 != 0) throw new IllegalArgumentException(op + ": output width n must be a positive multiple of 8, got " + n);
        if (k < 64 || k % 64 != 0) throw new IllegalArgumentException(op + ": inner dimension k must be a positive multiple of 64, got " + k);
    }

    /** out[r][j] = a[r] · w[j] (+ bias[j]) rounded to bf16, for r < m, j < n; bias (bf16 [n]) may be null. */
    public void linear(CUdeviceptr a, CUdeviceptr w, CUdeviceptr bias, int m, int n, int k, CUdeviceptr out) {
        checkShape("prefill linear", m, n, k);
        launch(choose(wgmma, false, m, oneKernel), a, w, out, null, bias, null, m, n, k);
    }

    /** x[r][j] += a[r] · w[j] in f32, in place: the o_proj and down_proj updates of the residual stream. */
    public void linearAddF32(CUdeviceptr a, CUdeviceptr w, int m, int n, int k, CUdeviceptr x) {
        checkShape("prefill residual linear", m, n, k);
        launch(choose(wgmma, false, m, oneKernel), a, w, null, x, null, x, m, n, k);
    }

    /** out[r][j] = a[r] · w[j] in f32 (logits). */
    public void linearF32(CUdeviceptr a, CUdeviceptr w, int m, int n, int k, CUdeviceptr out) {
        checkShape("prefill f32 linear", m, n, k);
        launch(choose(wgmma, false, m, oneKernel), a, w, null, out, null, null, m, n, k);
    }

    /**
     * The q/k/v projection of {@code m} rows with its epilogue fused ({@code e}: bias, RoPE, q and the
     * paged K/V writes, as {@link CudaKernels#qkvRopeStore} applies them to an f32 {@link #linearF32}),
     * when the pass would take {@link #WGMMA_PLAIN} whole (not split over k) and a tile holds whole
     * heads. Same bits as the two launches (rope.cuh), without the f32 [m][width] round trip: at 8K rows
     * of the 7B, 151 MB written and read again, and a launch, per layer.
     *
     * @param col0 the first output column computed: 0 for q, k and v, {@code e.qDim()} for the keys and
     *     values alone (a last layer whose q no row reads); a multiple of the head dim
     * @return false, having launched nothing, where the pass takes another kernel: the caller then runs
     *     the projection and the epilogue as two launches
     */
    boolean qkvRope(CUdeviceptr a, CUdeviceptr w, int m, int k, QkvEpilogue e, int col0) {
        if (col0 < 0 || col0 % e.headDim() != 0 || col0 > e.qDim()) {
            throw new IllegalArgumentException("prefill qkv projection: first column " + col0 + " must be a multiple of the"
                    + " head dim " + e.headDim() + " in 0.." + e.qDim());
        }
        int n = e.width() - col0;
        checkShape("prefill qkv projection", m, n, k);
        e.checkRows(m);
        Kernel kn = switch (e.headDim()) {
            case 64 -> WGMMA_QKV_ROPE_64;
            case 128 -> WGMMA_QKV_ROPE_128;
            default -> null;
        };
        if (kn == null || choose(wgmma, false, m, oneKernel) != WGMMA_PLAIN) return false;
        if (partials != null && splits(m, n, k, multiprocessors) > 1) return false;
        Object[] tail = e.kernelArgs();
        Object[] args = new Object[5 + tail.length];
        args[0] = a;
        args[1] = w.withByteOffset(2L * col0 * k);
        args[2] = m;
        args[3] = k;
        args[4] = col0;
        System.arraycopy(tail, 0, args, 5, tail.length);
        if (sharedRaised.add(kn.name())) module.allowDynamicShared(kn.name(), kn.sharedBytes());
        launcher.launch(kn.name(), (int) kn.blocks(m, n), 1, 1, kn.threads(), kn.sharedBytes(), args);
        return true;
    }

    /**
     * out[r][i] = silu(a[r] · gateUp[i]) * (a[r] · gateUp[intermediate + i]) as bf16 [m][intermediate]:
     * gateUp is the fused [2*intermediate][k] weight, gate rows first.
     */
    public void swiglu(CUdeviceptr a, CUdeviceptr gateUp, int m, int intermediate, int k, CUdeviceptr out) {
        checkShape("prefill swiglu", m, intermediate, k);
        Kernel kn = choose(wgmma, true, m, oneKernel);
        if (kn == WGMMA_SWIGLU) kn = swigluTile(intermediate, multiprocessors);
        launch(kn, a, gateUp, out, null, null, null, m, intermediate, k);
    }

    private void launch(Kernel kn, CUdeviceptr a, CUdeviceptr w, CUdeviceptr outBf16, CUdeviceptr outF32,
                        CUdeviceptr bias, CUdeviceptr residual, int m, int n, int k) {
        long blocks = kn.blocks(m, n);
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(kn.name() + ": " + m + "x" + n + " needs " + blocks + " blocks, more than a 1-D grid holds");
        }
        int splits = kn == WGMMA_PLAIN && partials != null ? splits(m, n, k, multiprocessors) : 1;
        if (splits > 1) {
            Kernel split = WGMMA_PLAIN_SPLIT;
            if (sharedRaised.add(split.name())) module.allowDynamicShared(split.name(), split.sharedBytes());
            int kTiles = k / TILE_K;
            int per = (kTiles + splits - 1) / splits;
            launcher.launch(split.name(), (int) blocks, splits, 1, split.threads(), split.sharedBytes(), a, w, new CUdeviceptr(),
                    new CUdeviceptr(), new CUdeviceptr(), new CUdeviceptr(), m, n, k, partials, per);
            long pairs = (long) m * n / 2;
            int finishBlocks = (int) Math.min(4096, (pairs + FINISH_THREADS - 1) / FINISH_THREADS);
            launcher.launch(FINISH, finishBlocks, 1, 1, FINISH_THREADS, 0, partials, splits, orNull(outBf16), orNull(outF32),
                    orNull(bias), orNull(residual), m, n);
            return;
        }
        if (sharedRaised.add(kn.name())) module.allowDynamicShared(kn.name(), kn.sharedBytes());
        launcher.launch(kn.name(), (int) blocks, 1, 1, kn.threads(), kn.sharedBytes(), a, w, orNull(outBf16),
                orNull(outF32), orNull(bias), orNull(residual), m, n, k);
    }

    private static CUdeviceptr orNull(CUdeviceptr p) {
        return p == null ? new CUdeviceptr() : p;
    }
}

package qwenchat.engine.cuda;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import qwenchat.engine.KernelLimits;

/**
 * Typed launches of the model kernels (see each {@code src/main/cuda/*.cu} for what it computes).
 * Shapes are checked here, where a wrong one is still a readable Java exception rather than a
 * device fault. Call inside {@link CudaContext#call}.
 */
public final class CudaKernels {
    /**
     * Rows of activations one decode pass handles. 256 so that a step of up to 256 sequences reads
     * the weights once (passes of 64 read them four times: 5.4K tok/s at 256 sequences on an H100,
     * against 15K for a CUDA-graph PyTorch loop); the GEMV tiles its batch over grid.y for any count.
     */
    public static final int MAX_ROWS = 256;
    /** Tokens per flash-decoding split (limits::ATTN_SPLIT in limits.cuh). */
    public static final int ATTN_SPLIT = KernelLimits.ATTN_SPLIT;
    /** Largest query-head group per KV head (limits::ATTN_MAX_GROUP). */
    public static final int ATTN_MAX_GROUP = KernelLimits.ATTN_MAX_GROUP;
    /** Most log-probabilities logits_topk reports per row (limits::MAX_TOP_LOGPROBS in limits.cuh). */
    public static final int MAX_TOPK = KernelLimits.MAX_TOP_LOGPROBS;

    public enum GemvMode {
        PLAIN("gemv_plain"), RESIDUAL("gemv_residual"), QKV("gemv_qkv"), SWIGLU("gemv_swiglu");

        final String prefix;

        GemvMode(String prefix) {
            this.prefix = prefix;
        }
    }

    private final Launcher launcher;
    /** Whether the GEMVs of up to 8 rows split K ({@link DecodeKernels#splitGemv}). */
    private final boolean splitGemv;
    /** Whether the norm-folding GEMVs stream their sums of squares ({@link DecodeKernels#streamedNorm}). */
    private final boolean streamedNorm;
    /** Whether the norm-folding GEMVs split K too ({@link DecodeKernels#splitNormGemv}). */
    private final boolean splitNormGemv;
    /** Whether the norm-folding qkv GEMV splits K too ({@link DecodeKernels#splitQkvGemv}). */
    private final boolean splitQkvNormGemv;

    /** Kernels whose GEMVs neither split K nor stream their norm sums. */
    public CudaKernels(KernelModule module, CUstream stream) {
        this(module, stream, false, false);
    }

    /** GEMVs split ({@code splitGemv}, the norm-folding ones too) or not, with streamed norm sums or not. */
    public CudaKernels(KernelModule module, CUstream stream, boolean splitGemv, boolean streamedNorm) {
        this(module, stream, splitGemv, streamedNorm, splitGemv);
    }

    /** The GEMV launch choices of {@code kernels}, every kernel launched after the one before it finishes. */
    public CudaKernels(KernelModule module, CUstream stream, DecodeKernels kernels) {
        this(module, stream, kernels, null);
    }

    /**
     * The GEMV launch choices of {@code kernels}; {@code dependent} (or null) launches the kernels that
     * wait for their predecessor themselves ({@link DecodeKernels#dependentLaunch}).
     */
    CudaKernels(KernelModule module, CUstream stream, DecodeKernels kernels, DependentLaunch dependent) {
        this(module, stream, kernels.splitGemv(), kernels.streamedNorm(), kernels.splitGemv() && kernels.splitNormGemv(),
                kernels.splitGemv() && kernels.splitNormGemv() && kernels.splitQkvGemv(), dependent);
    }

    private CudaKernels(KernelModule module, CUstream stream, boolean splitGemv, boolean streamedNorm, boolean splitNormGemv) {
        this(module, stream, splitGemv, streamedNorm, splitNormGemv, splitNormGemv, null);
    }

    private CudaKernels(KernelModule module, CUstream stream, boolean splitGemv, boolean streamedNorm, boolean splitNormGemv,
                        boolean splitQkvNormGemv, DependentLaunch dependent) {
        this.launcher = new Launcher(module, stream, dependent);
        this.splitGemv = splitGemv;
        this.streamedNorm = streamedNorm;
        this.splitNormGemv = splitNormGemv;
        this.splitQkvNormGemv = splitQkvNormGemv;
    }

    public Launcher launcher() {
        return launcher;
    }

    /** Threads of an embed_rows block, each converting 8 elements of a row. */
    private static final int EMBED_THREADS = 128;

    /** x[r] = float(E[tokens[r]]): tokens int [rows], E bf16 [vocab][hidden], x f32 [rows][hidden]. */
    public void embedRows(CUdeviceptr tokens, CUdeviceptr embed, CUdeviceptr x, int rows, int hidden) {
        launcher.launch("embed_rows", rows, (hidden + EMBED_THREADS * 8 - 1) / (EMBED_THREADS * 8), 1, EMBED_THREADS, 0,
                tokens, embed, x, hidden);
    }

    /** out[r] = w * rmsnorm(x[rowIndex ? rowIndex[r] : r]), all f32; rowIndex may be null. */
    public void rmsnorm(CUdeviceptr x, CUdeviceptr w, CUdeviceptr out, CUdeviceptr rowIndex, int rows, int hidden, float eps) {
        rmsnorm(x, w, out, null, rowIndex, rows, hidden, eps);
    }

    /** RMSNorm into an f32 and/or a bf16 output (either may be null). */
    public void rmsnorm(CUdeviceptr x, CUdeviceptr w, CUdeviceptr out, CUdeviceptr outBf16, CUdeviceptr rowIndex, int rows,
                        int hidden, float eps) {
        rmsnorm(x, w, out, outBf16, rowIndex, rows, hidden, eps, true);
    }

    /** As above; {@code vectorized} off keeps every row on the one-float-a-load loop (the benchmark's before). */
    void rmsnorm(CUdeviceptr x, CUdeviceptr w, CUdeviceptr out, CUdeviceptr outBf16, CUdeviceptr rowIndex, int rows, int hidden,
                 float eps, boolean vectorized) {
        launcher.launch("rmsnorm_rows", rows, 1, 1, 256, 0, x, w, orNull(out), orNull(outBf16), orNull(rowIndex), hidden, eps,
                vectorized ? 1 : 0);
    }

    /**
     * Where the kernels find a sequence's KV positions in the paged pools
     * ([totalBlocks][kvHeads][blockSize][headDim] bf16 per layer and side): row {@code s} of
     * {@code blockTable} (int32 [maxSequences][maxBlocksPerSeq]) lists sequence s's blocks in
     * position order, so position p is slot {@code p % blockSize} of block
     * {@code blockTable[s][p / blockSize]} (qc::kv_offset in common.cuh).
     */
    public record PagedKv(CUdeviceptr blockTable, int maxBlocksPerSeq, int blockSize) {
        public PagedKv {
            if (blockTable == null) throw new IllegalArgumentException("paged KV needs a device block table");
            if (blockSize < 1) throw new IllegalArgumentException("KV block size must be >= 1 token, got " + blockSize);
            if (maxBlocksPerSeq < 1) {
                throw new IllegalArgumentException("KV block table needs >= 1 block per sequence, got " + maxBlocksPerSeq);
            }
        }
    }

    /**
     * The (cos, sin) table of a pass's rows (rope_store.cu's rope_table): f32 [rows][headDim/2][2] into
     * {@code table}, for position pos[r] at every frequency, times {@code ropeScale}.
     */
    void ropeTable(CUdeviceptr pos, CUdeviceptr invFreq, float ropeScale, CUdeviceptr table, int rows, int headDim) {
        launcher.launch("rope_table", rows, 1, 1, 64, 0, pos, invFreq, ropeScale, table, headDim);
    }

    /**
     * Bias, RoPE and the KV write (see rope_store.cu) for f32 q/k/v rows [rows][qDim+2*kvDim] that a
     * projection without bias wrote; {@code e} says where q, k and v go.
     */
    void qkvRopeStore(CUdeviceptr qkv, int rows, QkvEpilogue e) {
        e.checkRows(rows);
        Object[] tail = e.kernelArgs();
        Object[] args = new Object[1 + tail.length];
        args[0] = qkv;
        System.arraycopy(tail, 0, args, 1, tail.length);
        launcher.launch("qkv_rope_store", rows, 1, 1, 256, 0, args);
    }

    /**
     * The bias lab's attention statistics of query row {@code row} (see lab_probe.cu): per query
     * head, the entropy of its attention over positions 0..pos[row] and the weight on position 0,
     * into {@code out} f32 [heads][2].
     */
    public void attentionProbe(CUdeviceptr q, CUdeviceptr kPool, CUdeviceptr slots, CUdeviceptr pos, int row, int heads,
                               int kvHeads, int headDim, float scale, PagedKv kv, CUdeviceptr out) {
        launcher.launch("attention_probe", heads, 1, 1, 256, 4 * headDim, q, kPool, slots, pos, row, heads, kvHeads,
                headDim, scale, kv.blockTable(), kv.maxBlocksPerSeq(), kv.blockSize(), out);
    }

    public void f32ToBf16(CUdeviceptr in, CUdeviceptr out, long n) {
        int blocks = (int) Math.min(4096, (n + 255) / 256);
        launcher.launch("f32_to_bf16", blocks, 1, 1, 256, 0, in, out, n);
    }

    /** Smallest compiled batch tile covering {@code rows} (capped at 32: larger batches take several tiles). */
    static int batchTile(int rows) {
        int t = 1;
        while (t < rows && t < 32) t <<= 1;
        return t;
    }

    /** Everything a GEMV epilogue may need; unused fields are null/0 for a mode ({@code kv} only for QKV). */
    public record GemvArgs(CUdeviceptr outF32, CUdeviceptr outAct, CUdeviceptr bias, CUdeviceptr invFreq, float ropeScale,
                           CUdeviceptr kPool, CUdeviceptr vPool, CUdeviceptr slots, CUdeviceptr pos,
                           int qDim, int kvDim, int headDim, PagedKv kv) {
        public static GemvArgs out(CUdeviceptr f32) {
            return new GemvArgs(f32, null, null, null, 1f, null, null, null, null, 0, 0, 0, null);
        }

        public static GemvArgs swiglu(CUdeviceptr act) {
            return new GemvArgs(null, act, null, null, 1f, null, null, null, null, 0, 0, 0, null);
        }
    }

    /** acc[b][n] = W[n] . X[b] for b < rows, n < N, then the mode's epilogue. */
    public void gemv(GemvMode mode, CUdeviceptr w, CUdeviceptr x, int n, int k, int rows, GemvArgs a) {
        gemv(mode, w, x, n, k, rows, a, null);
    }

    /**
     * As above; for {@link GemvMode#QKV}, {@code biasOff} (int [rows] of KernelLimits BIAS_* bits,
     * the bias lab's mask) names the biases each row skips, null: all added.
     */
    public void gemv(GemvMode mode, CUdeviceptr w, CUdeviceptr x, int n, int k, int rows, GemvArgs a, CUdeviceptr biasOff) {
        launchGemv(mode, mode.prefix, gemvWarps(mode), -1, w, x, n, k, rows, a, orNull(biasOff));
    }

    /**
     * Warps per block of a mode's GEMV, from the H200 profiles: 8 for gate/up, o/down and lm_head
     * (gate/up streamed at 4.08 TB/s with 8 against 3.28 with 4), 4 for the short qkv matrix (equal
     * either way). The kernels take any count up to {@link #GEMV_MAX_WARPS}, one weight-row pair per warp.
     */
    static int gemvWarps(GemvMode mode) {
        return mode == GemvMode.QKV ? 4 : 8;
    }

    /** Most warps a GEMV block may have (gemv.cu's norm reduction holds one slot per warp, 8). */
    static final int GEMV_MAX_WARPS = 8;

    /**
     * {@link #gemv} with {@code warps} per block and {@code splits} warps per weight-row pair instead
     * of the mode's count and {@link GemvShape#splitsK}, for {@link DeviceBenchmarks#gemvMicros} to
     * compare launch shapes on the card. Splits other than 1 need a batch tile of at most
     * {@link GemvShape#MAX_SPLIT_TILE} and a split dividing {@code warps}.
     */
    void gemvWithWarps(GemvMode mode, int warps, int splits, CUdeviceptr w, CUdeviceptr x, int n, int k, int rows,
                       GemvArgs a) {
        if (splits != 1 && splits != 2 && splits != GemvShape.MAX_SPLIT) {
            throw new IllegalArgumentException("gemv splits K over 1, 2 or " + GemvShape.MAX_SPLIT + " warps, got " + splits);
        }
        launchGemv(mode, mode.prefix, warps, splits, w, x, n, k, rows, a, new CUdeviceptr());
    }

    /** The K split {@link #gemv} takes for a mode's matrix over {@code k} at {@code rows} rows. */
    int gemvSplits(GemvMode mode, int k, int rows) {
        return GemvShape.splitsK(k / 8, batchTile(rows), gemvWarps(mode), splitGemv);
    }

    /**
     * The RMSNorm-folding GEMV (gemv.cu, {@code *_norm} kernels): activation row b is
     * {@code normW * rmsnorm(x[rowIndex ? rowIndex[b] : b])}, computed on the fly from the f32
     * residual stream {@code x} [*][k], then the mode's product and epilogue as in {@link #gemv}.
     * Modes PLAIN (lm_head after the final norm), QKV and SWIGLU; at most
     * {@link DecodeKernels#FOLDED_NORM_MAX_ROWS} rows.
     */
    public void gemvNormed(GemvMode mode, CUdeviceptr w, CUdeviceptr x, CUdeviceptr normW, CUdeviceptr rowIndex, float eps, int n,
                           int k, int rows, GemvArgs a) {
        gemvNormed(mode, w, x, normW, rowIndex, eps, n, k, rows, a, null);
    }

    /** As above, with the bias lab's per-row mask for {@link GemvMode#QKV} (see {@link #gemv}); null: all biases added. */
    public void gemvNormed(GemvMode mode, CUdeviceptr w, CUdeviceptr x, CUdeviceptr normW, CUdeviceptr rowIndex, float eps, int n,
                           int k, int rows, GemvArgs a, CUdeviceptr biasOff) {
        if (mode == GemvMode.RESIDUAL) throw new IllegalArgumentException("the residual GEMV has no norm to fold");
        if (rows < 1 || rows > DecodeKernels.FOLDED_NORM_MAX_ROWS) {
            throw new IllegalArgumentException("norm-folding gemv rows must be 1.." + DecodeKernels.FOLDED_NORM_MAX_ROWS
                    + ", got " + rows);
        }
        if (normW == null) throw new IllegalArgumentException("norm-folding gemv needs the norm weight");
        boolean split = mode == GemvMode.QKV ? splitQkvNormGemv : splitNormGemv;
        launchGemv(mode, mode.prefix + "_norm", gemvWarps(mode), split ? -1 : 1, w, x, n, k, rows, a, orNull(biasOff), normW,
                orNull(rowIndex), eps, streamedNorm ? 1 : 0);
    }

    /** {@code splits}: warps per weight-row pair, or -1 for {@link #gemvSplits}. */
    private void launchGemv(GemvMode mode, String prefix, int warps, int splits, CUdeviceptr w, CUdeviceptr x, int n, int k,
                            int rows, GemvArgs a, Object... extra) {
        if (warps < 1 || warps > GEMV_MAX_WARPS) {
            throw new IllegalArgumentException("gemv blocks take 1.." + GEMV_MAX_WARPS + " warps, got " + warps);
        }
        if (k % 8 != 0) throw new IllegalArgumentException("gemv needs K % 8 == 0, got K=" + k);
        if (rows < 1 || rows > MAX_ROWS) throw new IllegalArgumentException("gemv rows must be 1.." + MAX_ROWS + ", got " + rows);
        if ((mode == GemvMode.QKV || mode == GemvMode.SWIGLU) && n % 2 != 0) {
            throw new IllegalArgumentException(mode + " gemv needs an even N, got " + n);
        }
        if (mode == GemvMode.QKV && a.kv() == null) throw new IllegalArgumentException("QKV gemv needs the paged KV table");
        int pairs = (n + 1) / 2;
        int tile = batchTile(rows);
        int gridY = (rows + tile - 1) / tile;
        int ks = splits < 0 ? gemvSplits(mode, k, rows) : splits;
        if (ks > 1 && (tile > GemvShape.MAX_SPLIT_TILE || warps % ks != 0)) {
            throw new IllegalArgumentException("gemv K split " + ks + " needs a batch tile <= " + GemvShape.MAX_SPLIT_TILE
                    + " and blocks of a multiple of " + ks + " warps, got tile " + tile + " and " + warps + " warps");
        }
        int pairsPerBlock = warps / ks;
        Object[] args = {w, x, n, k, rows, orNull(a.outF32()), orNull(a.outAct()), orNull(a.bias()), orNull(a.invFreq()),
                a.ropeScale(), orNull(a.kPool()), orNull(a.vPool()), orNull(a.slots()), orNull(a.pos()), a.qDim(), a.kvDim(),
                a.headDim(), a.kv() == null ? new CUdeviceptr() : a.kv().blockTable(),
                a.kv() == null ? 0 : a.kv().maxBlocksPerSeq(), a.kv() == null ? 0 : a.kv().blockSize()};
        Object[] all = java.util.Arrays.copyOf(args, args.length + extra.length);
        System.arraycopy(extra, 0, all, args.length, extra.length);
        launcher.launch(prefix + "_bt" + tile + (ks > 1 ? "_ks" + ks : ""), (pairs + pairsPerBlock - 1) / pairsPerBlock, gridY, 1,
                32 * warps, 0, all);
    }

    private static CUdeviceptr orNull(CUdeviceptr p) {
        return p == null ? new CUdeviceptr() : p;
    }

    /** Splits needed to cover {@code tokens} cache positions. */
    public static int splitsFor(int tokens) {
        return (tokens + ATTN_SPLIT - 1) / ATTN_SPLIT;
    }

    /**
     * Flash-decoding partials over the paged pools: row r attends to positions 0..pos[r] of sequence
     * slots[r]. {@code gridSplits} splits are launched (covering the longest row); {@code partSplits}
     * is the split stride of the partial buffers (sized for the longest sequence).
     */
    public void attentionPartial(CUdeviceptr q, CUdeviceptr kPool, CUdeviceptr vPool, CUdeviceptr slots, CUdeviceptr pos,
                                 CUdeviceptr partO, CUdeviceptr partMl, int rows, int heads, int kvHeads, int headDim,
                                 PagedKv kv, int gridSplits, int partSplits, float scale) {
        attentionPartial(q, kPool, vPool, slots, pos, partO, partMl, rows, heads, kvHeads, headDim, kv, gridSplits, partSplits,
                scale, false);
    }

    /**
     * {@link #attentionPartial} with the choice of kernel: {@code groupBuckets} picks the one whose
     * register arrays fit the group ({@link #groupBucket}); off, the 16-wide original.
     */
    public void attentionPartial(CUdeviceptr q, CUdeviceptr kPool, CUdeviceptr vPool, CUdeviceptr slots, CUdeviceptr pos,
                                 CUdeviceptr partO, CUdeviceptr partMl, int rows, int heads, int kvHeads, int headDim,
                                 PagedKv kv, int gridSplits, int partSplits, float scale, boolean groupBuckets) {
        int group = checkAttention(heads, kvHeads, headDim, gridSplits, partSplits);
        String name = "attn_partial_hd" + headDim + (groupBuckets ? "_g" + groupBucket(group) : "");
        launcher.launch(name, gridSplits, kvHeads, rows, 128, attentionShared(group, headDim), q, kPool, vPool, slots, pos,
                partO, partMl, heads, kvHeads, partSplits, scale, kv.blockTable(), kv.maxBlocksPerSeq(), kv.blockSize());
    }

    /**
     * {@link #attentionPartial} on tensor cores ({@code attn_partial_mma_hd{64,128}},
     * attention_decode_mma.cu): the same partials for {@link #attentionCombine}, with the query
     * group as the MMAs' 16 rows and q and p rounded to bf16 for them (as in prefill flash attention).
     */
    public void attentionPartialMma(CUdeviceptr q, CUdeviceptr kPool, CUdeviceptr vPool, CUdeviceptr slots, CUdeviceptr pos,
                                    CUdeviceptr partO, CUdeviceptr partMl, int rows, int heads, int kvHeads, int headDim,
                                    PagedKv kv, int gridSplits, int partSplits, float scale) {
        attentionPartialMma(q, kPool, vPool, slots, pos, partO, partMl, rows, heads, kvHeads, headDim, kv,
                new AttentionSplits(ATTN_SPLIT, gridSplits, false), partSplits, scale, null, null,
                DecodeKernels.LATE_ATTENTION_TRIGGER_DEFAULT);
    }

    /**
     * The tensor-core partials of {@code plan}: blocks of {@code plan.span()} tokens (the one-tile
     * kernel {@code attn_partial_mma_hd*} for one tile, else {@code attn_partial_mma_span_hd*}). A
     * direct plan writes the finished rows into f32 {@code out} and/or bf16 {@code outBf16} (one may
     * be null) and the partial buffers are untouched; otherwise both outputs must be null and
     * {@link #attentionCombine} with the plan's span finishes the rows. {@code lateTrigger}: the
     * kernel after may start only once the blocks' loads are issued ({@link DecodeKernels#lateAttentionTrigger}).
     */
    public void attentionPartialMma(CUdeviceptr q, CUdeviceptr kPool, CUdeviceptr vPool, CUdeviceptr slots, CUdeviceptr pos,
                                    CUdeviceptr partO, CUdeviceptr partMl, int rows, int heads, int kvHeads, int headDim,
                                    PagedKv kv, AttentionSplits plan, int partSplits, float scale, CUdeviceptr out,
                                    CUdeviceptr outBf16, boolean lateTrigger) {
        checkAttention(heads, kvHeads, headDim, plan.grid(), partSplits);
        boolean outputs = out != null || outBf16 != null;
        if (outputs != plan.direct()) {
            throw new IllegalArgumentException(plan.direct() ? "a direct attention launch needs an f32 or a bf16 output"
                    : "attention partials for attn_combine take no output, the combine writes it");
        }
        String name = "attn_partial_mma_" + (plan.span() == ATTN_SPLIT ? "" : "span_") + "hd" + headDim;
        launcher.launch(name, plan.grid(), kvHeads, rows, 128, 0, q, kPool, vPool, slots, pos, partO, partMl, heads, kvHeads,
                partSplits, scale, kv.blockTable(), kv.maxBlocksPerSeq(), kv.blockSize(), plan.span(), orNull(out),
                orNull(outBf16), lateTrigger ? 1 : 0);
    }

    /**
     * One decode attention of {@code plan} with the kernels {@code choice} picks: the fused kernel,
     * the tensor-core partials (finishing the rows themselves when the plan is direct) or the CUDA-core
     * ones, then {@code attn_combine}. Rows [rows][heads*headDim] into f32 {@code out} and/or bf16
     * {@code outBf16} (either may be null).
     */
    public void attention(AttentionOperands a, int rows, int heads, int kvHeads, int headDim, PagedKv kv, AttentionSplits plan,
                          float scale, DecodeKernels choice) {
        if (choice.fusedAttention()) {
            attentionFused(a.q(), a.kPool(), a.vPool(), a.slots(), a.pos(), a.partO(), a.partMl(), a.counters(), a.out(),
                    a.outBf16(), rows, heads, kvHeads, headDim, kv, plan.grid(), a.partSplits(), scale, choice.groupBuckets());
            return;
        }
        if (choice.mmaAttention()) {
            attentionPartialMma(a.q(), a.kPool(), a.vPool(), a.slots(), a.pos(), a.partO(), a.partMl(), rows, heads, kvHeads,
                    headDim, kv, plan, a.partSplits(), scale, plan.direct() ? a.out() : null,
                    plan.direct() ? a.outBf16() : null, choice.lateAttentionTrigger());
            if (plan.direct()) return;
        } else {
            if (plan.span() != ATTN_SPLIT) {
                throw new IllegalArgumentException("the CUDA-core attention takes " + ATTN_SPLIT + "-token splits, got a plan of "
                        + plan.span());
            }
            attentionPartial(a.q(), a.kPool(), a.vPool(), a.slots(), a.pos(), a.partO(), a.partMl(), rows, heads, kvHeads,
                    headDim, kv, plan.grid(), a.partSplits(), scale, choice.groupBuckets());
        }
        attentionCombine(a.partO(), a.partMl(), a.pos(), a.out(), a.outBf16(), rows, heads, headDim, a.partSplits(), plan.span(),
                choice.lateAttentionTrigger());
    }

    /**
     * A decode attention's device operands: q f32 [rows][heads*headDim], the layer's K and V pools,
     * slots and positions int [rows], the partial buffers (split stride {@code partSplits}), the fused
     * kernel's split counters (int [rows][kvHeads], zero; null when it is not used), and the outputs
     * (either may be null).
     */
    public record AttentionOperands(CUdeviceptr q, CUdeviceptr kPool, CUdeviceptr vPool, CUdeviceptr slots, CUdeviceptr pos,
                                    CUdeviceptr partO, CUdeviceptr partMl, CUdeviceptr counters, CUdeviceptr out,
                                    CUdeviceptr outBf16, int partSplits) {
    }

    /**
     * Partials and combine in one launch ({@code attn_fused_*}): the last split block of each (row,
     * KV head) writes the group's combined heads into f32 {@code out} and/or bf16 {@code outBf16}
     * ([rows][heads*headDim], either may be null). {@code counters}: int [rows][kvHeads], all zero,
     * and left zero by the launch. The partial buffers are scratch as for {@link #attentionPartial};
     * {@code groupBuckets} off takes the 16-wide register arrays whatever the group.
     */
    public void attentionFused(CUdeviceptr q, CUdeviceptr kPool, CUdeviceptr vPool, CUdeviceptr slots, CUdeviceptr pos,
                               CUdeviceptr partO, CUdeviceptr partMl, CUdeviceptr counters, CUdeviceptr out, CUdeviceptr outBf16,
                               int rows, int heads, int kvHeads, int headDim, PagedKv kv, int gridSplits, int partSplits,
                               float scale, boolean groupBuckets) {
        int group = checkAttention(heads, kvHeads, headDim, gridSplits, partSplits);
        if (out == null && outBf16 == null) throw new IllegalArgumentException("fused attention needs an f32 or a bf16 output");
        if (counters == null) throw new IllegalArgumentException("fused attention needs its split counters");
        int width = groupBuckets ? groupBucket(group) : ATTN_MAX_GROUP;
        launcher.launch("attn_fused_hd" + headDim + "_g" + width, gridSplits, kvHeads, rows, 128,
                attentionShared(group, headDim), q, kPool, vPool, slots, pos, partO, partMl, heads, kvHeads, partSplits, scale,
                kv.blockTable(), kv.maxBlocksPerSeq(), kv.blockSize(), counters, orNull(out), orNull(outBf16));
    }

    /** The compiled register-array width for a query-head group: 4, 8 or 16 (attention_decode.cu). */
    static int groupBucket(int group) {
        if (group < 1 || group > ATTN_MAX_GROUP) {
            throw new IllegalArgumentException("attention group must be 1.." + ATTN_MAX_GROUP + ", got " + group);
        }
        return group <= 4 ? 4 : group <= 8 ? 8 : 16;
    }

    private static int attentionShared(int group, int headDim) {
        return (group * headDim + group * ATTN_SPLIT + 4 * group * headDim) * Float.BYTES;
    }

    /** Checks a decode attention launch's shapes; returns the group size. */
    private static int checkAttention(int heads, int kvHeads, int headDim, int gridSplits, int partSplits) {
        if (kvHeads < 1 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("attention heads " + heads + " are not a multiple of the KV heads " + kvHeads);
        }
        int group = heads / kvHeads;
        if (group > ATTN_MAX_GROUP) throw new IllegalArgumentException("attention group " + group + " > " + ATTN_MAX_GROUP);
        if (headDim != 64 && headDim != 128) {
            throw new IllegalArgumentException("decode attention has kernels for head_dim 64 and 128, got " + headDim);
        }
        if (gridSplits > partSplits) {
            throw new IllegalArgumentException("attention grid of " + gridSplits + " splits exceeds the " + partSplits
                    + " the partial buffers hold");
        }
        return group;
    }

    public void attentionCombine(CUdeviceptr partO, CUdeviceptr partMl, CUdeviceptr pos, CUdeviceptr out, int rows, int heads,
                                 int headDim, int partSplits) {
        attentionCombine(partO, partMl, pos, out, null, rows, heads, headDim, partSplits);
    }

    /** The combine into f32 {@code out} and/or its bf16 rounding {@code outBf16} ([rows][heads*headDim]; either may be null). */
    public void attentionCombine(CUdeviceptr partO, CUdeviceptr partMl, CUdeviceptr pos, CUdeviceptr out, CUdeviceptr outBf16,
                                 int rows, int heads, int headDim, int partSplits) {
        attentionCombine(partO, partMl, pos, out, outBf16, rows, heads, headDim, partSplits, ATTN_SPLIT,
                DecodeKernels.LATE_ATTENTION_TRIGGER_DEFAULT);
    }

    /**
     * The combine of partials made with {@code span}-token splits (row r has ceil((pos[r]+1)/span) of
     * them); {@code lateTrigger}: the kernel after starts as its blocks exit ({@link DecodeKernels#lateAttentionTrigger}).
     */
    public void attentionCombine(CUdeviceptr partO, CUdeviceptr partMl, CUdeviceptr pos, CUdeviceptr out, CUdeviceptr outBf16,
                                 int rows, int heads, int headDim, int partSplits, int span, boolean lateTrigger) {
        if (out == null && outBf16 == null) throw new IllegalArgumentException("attention combine needs an f32 or a bf16 output");
        if (span < ATTN_SPLIT || span % ATTN_SPLIT != 0) {
            throw new IllegalArgumentException("attention combine span must be a multiple of " + ATTN_SPLIT + ", got " + span);
        }
        launcher.launch("attn_combine", heads, rows, 1, 128, 0, partO, partMl, pos, orNull(out), orNull(outBf16), heads, headDim,
                partSplits, span, lateTrigger ? 1 : 0);
    }

    /** Chunks per row of the two-stage argmax; ws.argmaxPart holds [rows][ARGMAX_CHUNKS][3] floats. */
    public static final int ARGMAX_CHUNKS = 64;

    /** The k = 1 case of {@link #logitsTopk}, in two stages over many blocks: ids[r], lps[r], lse[r]. */
    public void logitsArgmax(CUdeviceptr logits, int rows, int vocab, CUdeviceptr part, CUdeviceptr ids, CUdeviceptr logprobs,
                             CUdeviceptr lse) {
        int chunk = (vocab + ARGMAX_CHUNKS - 1) / ARGMAX_CHUNKS;
        launcher.launch("logits_argmax_partial", ARGMAX_CHUNKS, rows, 1, 256, 0, logits, vocab, chunk, part);
        launcher.launch("logits_argmax_finish", rows, 1, 1, 32, 0, part, ARGMAX_CHUNKS, ids, logprobs, lse);
    }

    /** Per row: the k best ids and their log-probabilities, and log-sum-exp. */
    public void logitsTopk(CUdeviceptr logits, int rows, int vocab, int k, CUdeviceptr ids, CUdeviceptr logprobs, CUdeviceptr lse) {
        if (k < 1 || k > MAX_TOPK) throw new IllegalArgumentException("top-k must be 1.." + MAX_TOPK + ", got " + k);
        launcher.launch("logits_topk", rows, 1, 1, 1024, 0, logits, vocab, k, ids, logprobs, lse);
    }

    /** Most top-k survivors (ties included) a row sends to the host; more means the whole row is read. */
    public static final int MAX_CANDIDATES = 4096;

    /** Penalties and temperature into {@code proc} for rows whose mode is 1 (greedy) or 2 (sample); see sampling.cu. */
    public void samplePrepare(CUdeviceptr raw, CUdeviceptr proc, int rows, int vocab, CUdeviceptr mode, CUdeviceptr rep,
                              CUdeviceptr temp, CUdeviceptr off, CUdeviceptr ids, CUdeviceptr flags, CUdeviceptr delta) {
        launcher.launch("sample_prepare", rows, 1, 1, 1024, 0, raw, proc, vocab, mode, rep, temp, off, ids, flags, delta);
    }

    /** The top-k survivors (ties included) of mode-2 rows; count -1 where the host needs the whole row. */
    public void topkCandidates(CUdeviceptr proc, int rows, int vocab, CUdeviceptr mode, CUdeviceptr topK, CUdeviceptr count,
                               CUdeviceptr candIds, CUdeviceptr candVals) {
        launcher.launch("topk_candidates", rows, 1, 1, 1024, 0, proc, vocab, mode, topK, MAX_CANDIDATES, count, candIds,
                candVals);
    }

    /**
     * Constrained decoding (token_mask.cu): for each j < maskedRows, the ids of logits row rows[j]
     * whose bit is clear in words [j * words, (j + 1) * words) of {@code allowed} become -inf.
     */
    public void maskLogits(CUdeviceptr logits, int vocab, CUdeviceptr allowed, int words, CUdeviceptr rows, int maskedRows) {
        launcher.launch("mask_logits", (vocab + 255) / 256, maskedRows, 1, 256, 0, logits, allowed, rows, vocab, words);
    }

    /** Streams {@code bytes} (a multiple of 16) from {@code p}; one partial sum per block into {@code out}. */
    public void readBandwidth(CUdeviceptr p, long bytes, CUdeviceptr out, int blocks) {
        launcher.launch("read_bandwidth", blocks, 1, 1, 512, 0, p, bytes / 16, out);
    }
}

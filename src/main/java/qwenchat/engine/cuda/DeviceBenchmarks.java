package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;
import qwenchat.weights.Bf16;

/** Measurements of the card itself, for the benchmark's roofline numbers. Run inside {@link CudaContext#call}. */
public final class DeviceBenchmarks {
    private DeviceBenchmarks() {
    }

    /** Best-of-{@code reps} read bandwidth in GB/s streaming a {@code bytes} buffer with read_bandwidth. */
    public static double readBandwidth(CudaKernels k, long bytes, int reps) {
        int blocks = 132 * 8;
        try (DeviceBuffer src = DeviceBuffer.allocate("bandwidth source", bytes);
             DeviceBuffer sums = DeviceBuffer.allocate("bandwidth sums", 4L * blocks)) {
            src.zero();
            k.readBandwidth(src.ptr(), bytes, sums.ptr(), blocks);  // warm-up
            float best = Float.MAX_VALUE;
            try (StreamTimer timer = new StreamTimer(k.launcher().stream())) {
                for (int i = 0; i < reps; i++) {
                    best = Math.min(best, timer.millis(() -> k.readBandwidth(src.ptr(), bytes, sums.ptr(), blocks)));
                }
            }
            return bytes / (best * 1e-3) / 1e9;
        }
    }

    /**
     * GPU time in microseconds (best of {@code reps}) of one layer's decode attention (the kernels
     * {@link DecodeKernels#defaults()} picks) for {@code rows} sequences of {@code context} tokens each,
     * whose blocks of {@code blockSize} are scattered over the pool in random order (a fragmented
     * pool, as after hours of serving). Shapes are Qwen2.5-7B's unless given: 28 query and 4 KV heads of 128.
     */
    public static double decodeAttentionMicros(CudaKernels k, int heads, int kvHeads, int headDim, int rows, int context,
                                               int blockSize, int reps) {
        return decodeAttentionMicros(k, heads, kvHeads, headDim, rows, context, blockSize, DecodeKernels.defaults(), reps);
    }

    /**
     * As above with the attention kernels of {@code choice}: attn_fused_*, or the CUDA-core or
     * tensor-core partials of one tile a block and attn_combine.
     */
    public static double decodeAttentionMicros(CudaKernels k, int heads, int kvHeads, int headDim, int rows, int context,
                                               int blockSize, DecodeKernels choice, int reps) {
        return decodeAttentionMicros(k, heads, kvHeads, headDim, rows, context, blockSize, choice,
                AttentionSplits.tiles(context).span(), reps);
    }

    /** The span of the engine's attention plan ({@link AttentionSplits}) for these rows with the kernels of {@code d}. */
    public static int engineAttentionSpan(DecodeKernels d, int rows, int kvHeads, int context, int multiprocessors) {
        return AttentionSplits.plan(d, false, rows, kvHeads, context, multiprocessors).span();
    }

    /**
     * As above with blocks of {@code span} tokens (a power-of-two multiple of 64; the tensor-core
     * kernels only past 64): the rows finished by the partial kernel when one span covers the context,
     * else by attn_combine.
     */
    public static double decodeAttentionMicros(CudaKernels k, int heads, int kvHeads, int headDim, int rows, int context,
                                               int blockSize, DecodeKernels choice, int span, int reps) {
        int perSeq = (context + blockSize - 1) / blockSize;
        int totalBlocks = perSeq * rows;
        List<Integer> ids = new ArrayList<>(totalBlocks);
        for (int i = 0; i < totalBlocks; i++) ids.add(i);
        Collections.shuffle(ids, new Random(blockSize));
        int[] table = new int[totalBlocks];
        for (int i = 0; i < totalBlocks; i++) table[i] = ids.get(i);
        int[] slots = new int[rows];
        int[] pos = new int[rows];
        for (int r = 0; r < rows; r++) {
            slots[r] = r;
            pos[r] = context - 1;
        }
        int splits = CudaKernels.splitsFor(context);
        AttentionSplits plan = AttentionSplits.ofSpan(span, context, choice);
        long poolBytes = 2L * totalBlocks * kvHeads * blockSize * headDim;
        try (DeviceBuffer kp = DeviceBuffer.allocate("bench K pool", poolBytes);
             DeviceBuffer vp = DeviceBuffer.allocate("bench V pool", poolBytes);
             DeviceBuffer bt = DeviceBuffer.allocate("bench block table", 4L * totalBlocks);
             DeviceBuffer ds = DeviceBuffer.allocate("bench slots", 4L * rows);
             DeviceBuffer dp = DeviceBuffer.allocate("bench positions", 4L * rows);
             DeviceBuffer q = DeviceBuffer.allocate("bench q", 4L * rows * heads * headDim);
             DeviceBuffer partO = DeviceBuffer.allocate("bench partial o", 4L * rows * heads * splits * headDim);
             DeviceBuffer partMl = DeviceBuffer.allocate("bench partial m/l", 8L * rows * heads * splits);
             DeviceBuffer out = DeviceBuffer.allocate("bench attention out", 4L * rows * heads * headDim);
             DeviceBuffer counters = DeviceBuffer.allocate("bench attention split counters", 4L * rows * kvHeads)) {
            counters.zero();
            kp.zero();
            vp.zero();
            q.zero();
            bt.copyFromHost(table);
            ds.copyFromHost(slots);
            dp.copyFromHost(pos);
            CudaKernels.PagedKv kv = new CudaKernels.PagedKv(bt.ptr(), perSeq, blockSize);
            float scale = (float) (1 / Math.sqrt(headDim));
            CudaKernels.AttentionOperands ops = new CudaKernels.AttentionOperands(q.ptr(), kp.ptr(), vp.ptr(), ds.ptr(), dp.ptr(),
                    partO.ptr(), partMl.ptr(), counters.ptr(), out.ptr(), null, splits);
            Runnable once = () -> k.attention(ops, rows, heads, kvHeads, headDim, kv, plan, scale, choice);
            return bestMicros(k, once, reps);
        }
    }

    /**
     * GPU time in microseconds (best of {@code reps}, each the mean of a graph of {@link #GRAPH_LAUNCHES} launches) of one batch-1..8
     * GEMV of Qwen2.5-7B's shape {@code n} x {@code k} in {@code mode} (RESIDUAL or SWIGLU) with
     * {@code warps} per block and {@code splits} warps per weight-row pair, on zero weights and
     * activations: the launch shape's effect on how fast the weights stream, which the engine's
     * counts ({@link CudaKernels#gemvWarps}, {@link GemvShape#splitsK}) are chosen by.
     */
    public static double gemvMicros(CudaKernels k, CudaKernels.GemvMode mode, int n, int kDim, int rows, int warps, int splits,
                                    int reps) {
        if (mode != CudaKernels.GemvMode.RESIDUAL && mode != CudaKernels.GemvMode.SWIGLU) {
            throw new IllegalArgumentException("the GEMV benchmark times RESIDUAL and SWIGLU, not " + mode);
        }
        try (DeviceBuffer w = DeviceBuffer.allocate("bench gemv weights", 2L * n * kDim);
             DeviceBuffer x = DeviceBuffer.allocate("bench gemv activations", 4L * rows * kDim);
             DeviceBuffer out = DeviceBuffer.allocate("bench gemv output", 4L * rows * n)) {
            w.zero();
            x.zero();
            out.zero();
            CudaKernels.GemvArgs args = mode == CudaKernels.GemvMode.RESIDUAL
                    ? CudaKernels.GemvArgs.out(out.ptr()) : CudaKernels.GemvArgs.swiglu(out.ptr());
            return bestMicros(k, () -> k.gemvWithWarps(mode, warps, splits, w.ptr(), x.ptr(), n, kDim, rows, args), reps);
        }
    }

    /** Warps per block of the engine's GEMVs in {@code mode} ({@link CudaKernels#gemvWarps}). */
    public static int gemvWarps(CudaKernels.GemvMode mode) {
        return CudaKernels.gemvWarps(mode);
    }

    /** The K split of the default engine's batch-1 GEMV over {@code k} in {@code mode} ({@link GemvShape#splitsK}). */
    public static int gemvSplits(CudaKernels.GemvMode mode, int k) {
        return GemvShape.splitsK(k / 8, 1, CudaKernels.gemvWarps(mode), DecodeKernels.defaults().splitGemv());
    }

    /**
     * GPU time in microseconds (best of {@code reps}, each the mean of a graph of {@link #GRAPH_LAUNCHES} launches) of one layer's
     * causal prefill attention over a {@code tokens}-token prompt at past 0 ({@link PrefillAttention},
     * 64-token KV blocks in order), with the grid's heads on x ({@code headsFastest}, the engine's
     * order) or on y, on the engine's tile for a card with ({@code wgmma}) or without Hopper's MMAs.
     * Zero operands: the work does not depend on the values.
     */
    public static double prefillAttentionMicros(CudaKernels k, int tokens, int qHeads, int kvHeads, boolean headsFastest,
                                                boolean wgmma, int reps) {
        return prefillAttentionMicros(k, tokens, qHeads, kvHeads, headsFastest,
                PrefillAttention.Tiles.DEFAULT.forTokens(tokens, wgmma), reps);
    }

    /** As above with the kernel of {@code tile}. */
    public static double prefillAttentionMicros(CudaKernels k, int tokens, int qHeads, int kvHeads, boolean headsFastest,
                                                PrefillAttention.Tile tile, int reps) {
        return prefillAttentionMicros(k, tokens, qHeads, kvHeads, headsFastest, tile, false, reps);
    }

    /**
     * As above; {@code random}: q, k and v drawn from a unit normal (scores of about unit spread)
     * instead of zeros, as a prompt's are: the tensor cores' power, and with it the clock the card
     * holds, depends on the operands.
     */
    public static double prefillAttentionMicros(CudaKernels k, int tokens, int qHeads, int kvHeads, boolean headsFastest,
                                                PrefillAttention.Tile tile, boolean random, int reps) {
        int hd = PrefillAttention.HEAD_DIM;
        int blockSize = 64;
        int blocks = (tokens + blockSize - 1) / blockSize;
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) table[i] = i;
        long pool = (long) blocks * kvHeads * blockSize * hd;
        try (DeviceBuffer q = DeviceBuffer.allocate("bench attention q", 2L * tokens * qHeads * hd);
             DeviceBuffer kp = DeviceBuffer.allocate("bench attention k pool", 2 * pool);
             DeviceBuffer vp = DeviceBuffer.allocate("bench attention v pool", 2 * pool);
             DeviceBuffer bt = DeviceBuffer.allocate("bench attention block table", 4L * blocks);
             DeviceBuffer out = DeviceBuffer.allocate("bench attention out", 2L * tokens * qHeads * hd)) {
            if (random) {
                Random rnd = new Random(29);
                q.copyFromHost(gaussianBf16(rnd, (long) tokens * qHeads * hd));
                kp.copyFromHost(gaussianBf16(rnd, pool));
                vp.copyFromHost(gaussianBf16(rnd, pool));
            } else {
                q.zero();
                kp.zero();
                vp.zero();
            }
            bt.copyFromHost(table);
            PrefillAttention a = new PrefillAttention(k.launcher().module(), k.launcher().stream(), headsFastest, tile);
            PrefillAttention.Strides st = new PrefillAttention.Strides(qHeads * hd, hd, qHeads * hd, hd);
            return bestMicros(k, () -> a.causal(q.ptr(), kp.ptr(), vp.ptr(), bt.ptr(), blockSize, out.ptr(), st, tokens, 0, qHeads,
                    kvHeads), reps);
        }
    }

    /** n unit-normal draws as bf16 bits. */
    private static short[] gaussianBf16(Random rnd, long n) {
        short[] a = new short[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) a[i] = Bf16.fromFloat((float) rnd.nextGaussian());
        return a;
    }

    /** A projection kind {@link #gemmMicros} times. */
    public enum GemmOp { F32, RESIDUAL, SWIGLU }

    /**
     * GPU time in microseconds (best of {@code reps}, each the mean of a graph of
     * {@link #GRAPH_LAUNCHES} launches) of one wgmma projection of {@code m} rows, {@code n} outputs over {@code kDim}, on zero operands: with the
     * engine's tuning ({@code tuned}: split-K for plain projections, the swiglu tile for the card) or
     * without it (one pass of 128 x 256 tiles). Compute capability 9.0 only.
     */
    public static double gemmMicros(CudaKernels k, int multiprocessors, GemmOp op, int m, int n, int kDim, boolean tuned,
                                    int reps) {
        long weightRows = op == GemmOp.SWIGLU ? 2L * n : n;
        try (DeviceBuffer parts = DeviceBuffer.allocate("bench split-K parts", 4L * PrefillGemm.partialFloats());
             DeviceBuffer w = DeviceBuffer.allocate("bench gemm weights", 2L * weightRows * kDim);
             DeviceBuffer a = DeviceBuffer.allocate("bench gemm activations", 2L * m * kDim);
             DeviceBuffer out = DeviceBuffer.allocate("bench gemm output", 4L * m * n)) {
            w.zero();
            a.zero();
            out.zero();
            PrefillGemm g = tuned ? new PrefillGemm(k.launcher().module(), k.launcher().stream(), true, false, multiprocessors,
                    parts.ptr()) : new PrefillGemm(k.launcher().module(), k.launcher().stream(), true);
            Runnable once = switch (op) {
                case F32 -> () -> g.linearF32(a.ptr(), w.ptr(), m, n, kDim, out.ptr());
                case RESIDUAL -> () -> g.linearAddF32(a.ptr(), w.ptr(), m, n, kDim, out.ptr());
                case SWIGLU -> () -> g.swiglu(a.ptr(), w.ptr(), m, n, kDim, out.ptr());
            };
            return bestMicros(k, once, reps);
        }
    }

    /** How {@link #qkvEpilogueMicros} runs the q/k/v projection of a prompt. */
    public enum QkvEpilogueRun {
        /** The f32 GEMM, then {@code qkv_rope_store}. */
        TWO_LAUNCHES,
        /** {@link PrefillGemm#qkvRope}: bias, RoPE and the stores in the GEMM's epilogue. */
        FUSED,
        /** The plain GEMM storing bf16, no bias or RoPE: what an epilogue of that many bytes costs at least. */
        BF16_STORE
    }

    /**
     * GPU time in microseconds (best of {@code reps}, as {@link #gemmMicros}) of the q/k/v projection of
     * a prompt's {@code m} rows (positions 0..m-1 of one sequence, 64-token KV blocks) with its epilogue
     * (bias, RoPE, bf16 q, the K/V writes) as {@code run} says; the pass's (cos, sin) table is computed
     * once before, as the engine does once a pass. Unit-normal activations and weights; compute
     * capability 9.0 only.
     *
     * @throws IllegalStateException where the fused kernel does not take this shape
     */
    public static double qkvEpilogueMicros(CudaKernels k, int multiprocessors, int m, int qHeads, int kvHeads, int hd,
                                           int kDim, QkvEpilogueRun run, int reps) {
        int qDim = qHeads * hd;
        int kvDim = kvHeads * hd;
        int n = qDim + 2 * kvDim;
        int blockSize = 64;
        int blocks = (m + blockSize - 1) / blockSize;
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) table[i] = i;
        int[] positions = new int[m];
        for (int i = 0; i < m; i++) positions[i] = i;
        float[] invFreq = new float[hd / 2];
        for (int i = 0; i < invFreq.length; i++) invFreq[i] = (float) Math.pow(1e6, -2.0 * i / hd);
        long pool = (long) blocks * kvHeads * blockSize * hd;
        Random rnd = new Random(31);
        try (DeviceBuffer parts = DeviceBuffer.allocate("bench split-K parts", 4L * PrefillGemm.partialFloats());
             DeviceBuffer a = DeviceBuffer.allocate("bench qkv activations", 2L * m * kDim);
             DeviceBuffer w = DeviceBuffer.allocate("bench qkv weights", 2L * n * kDim);
             DeviceBuffer bias = DeviceBuffer.allocate("bench qkv bias", 2L * n);
             DeviceBuffer freq = DeviceBuffer.allocate("bench inv freq", 4L * invFreq.length);
             DeviceBuffer rope = DeviceBuffer.allocate("bench rope table", 4L * m * hd);
             DeviceBuffer qkvF32 = DeviceBuffer.allocate("bench qkv f32", 4L * m * n);
             DeviceBuffer qOut = DeviceBuffer.allocate("bench q f32", 4L * m * qDim);
             DeviceBuffer qBf16 = DeviceBuffer.allocate("bench q bf16", 2L * m * qDim);
             DeviceBuffer kp = DeviceBuffer.allocate("bench k pool", 2 * pool);
             DeviceBuffer vp = DeviceBuffer.allocate("bench v pool", 2 * pool);
             DeviceBuffer slots = DeviceBuffer.allocate("bench slots", 4L * m);
             DeviceBuffer pos = DeviceBuffer.allocate("bench positions", 4L * m);
             DeviceBuffer bt = DeviceBuffer.allocate("bench block table", 4L * blocks)) {
            a.copyFromHost(gaussianBf16(rnd, (long) m * kDim));
            w.copyFromHost(gaussianBf16(rnd, (long) n * kDim));
            bias.copyFromHost(gaussianBf16(rnd, n));
            freq.copyFromHost(invFreq);
            slots.zero();
            pos.copyFromHost(positions);
            bt.copyFromHost(table);
            k.ropeTable(pos.ptr(), freq.ptr(), 1f, rope.ptr(), m, hd);
            PrefillGemm g = new PrefillGemm(k.launcher().module(), k.launcher().stream(), true, false, multiprocessors,
                    parts.ptr());
            QkvEpilogue e = new QkvEpilogue(bias.ptr(), rope.ptr(), qOut.ptr(), qBf16.ptr(), kp.ptr(), vp.ptr(), slots.ptr(),
                    pos.ptr(), qDim, kvDim, hd, new CudaKernels.PagedKv(bt.ptr(), blocks, blockSize), null, m);
            Runnable once = switch (run) {
                case FUSED -> () -> {
                    if (!g.qkvRope(a.ptr(), w.ptr(), m, kDim, e, 0)) {
                        throw new IllegalStateException("the fused qkv kernel does not take " + m + " rows of head dim " + hd);
                    }
                };
                case TWO_LAUNCHES -> () -> {
                    g.linearF32(a.ptr(), w.ptr(), m, n, kDim, qkvF32.ptr());
                    k.qkvRopeStore(qkvF32.ptr(), m, e);
                };
                case BF16_STORE -> () -> g.linear(a.ptr(), w.ptr(), null, m, n, kDim, qkvF32.ptr());
            };
            return bestMicros(k, once, reps);
        }
    }

    /**
     * GPU time in microseconds (best of {@code reps}) of RMSNorm over {@code rows} rows of
     * {@code hidden} into bf16, as the GEMM route runs it, four floats a load or one.
     */
    public static double rmsnormMicros(CudaKernels k, int rows, int hidden, boolean vectorized, int reps) {
        try (DeviceBuffer x = DeviceBuffer.allocate("bench norm x", 4L * rows * hidden);
             DeviceBuffer w = DeviceBuffer.allocate("bench norm w", 2L * hidden);
             DeviceBuffer out = DeviceBuffer.allocate("bench norm out", 2L * rows * hidden)) {
            x.zero();
            w.zero();
            return bestMicros(k, () -> k.rmsnorm(x.ptr(), w.ptr(), null, out.ptr(), null, rows, hidden, 1e-6f, vectorized), reps);
        }
    }

    /**
     * GPU microseconds of one {@code once} (best of {@code reps}), timed as the engine runs its decode
     * passes: {@link #GRAPH_LAUNCHES} copies captured in one CUDA graph and replayed, so a kernel
     * shorter than a JCuda launch is not timed as the launch (launched one by one from the JVM, a
     * 5 us kernel reads as the 10-25 us its launch takes).
     */
    private static double bestMicros(CudaKernels k, Runnable once, int reps) {
        once.run();  // warm-up, and any one-time set-up (shared-memory limits) outside the capture
        CUstream stream = k.launcher().stream();
        CUgraphExec exec = new CUgraphExec();
        CUgraph graph = new CUgraph();
        check(JCudaDriver.cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                "cuStreamBeginCapture");
        try {
            for (int j = 0; j < GRAPH_LAUNCHES; j++) once.run();
        } finally {
            check(JCudaDriver.cuStreamEndCapture(stream, graph), "cuStreamEndCapture");
        }
        try {
            check(JCudaDriver.cuGraphInstantiate(exec, graph, 0), "cuGraphInstantiate");
            check(JCudaDriver.cuGraphLaunch(exec, stream), "cuGraphLaunch");  // the graph's own first-launch cost
            float best = Float.MAX_VALUE;
            try (StreamTimer timer = new StreamTimer(stream)) {
                for (int i = 0; i < reps; i++) {
                    best = Math.min(best, timer.millis(() -> check(JCudaDriver.cuGraphLaunch(exec, stream), "cuGraphLaunch"))
                            / GRAPH_LAUNCHES);
                }
            }
            return best * 1e3;
        } finally {
            JCudaDriver.cuGraphExecDestroy(exec);
            JCudaDriver.cuGraphDestroy(graph);
        }
    }

    /** Copies of a kernel in the graph {@link #bestMicros} times. */
    static final int GRAPH_LAUNCHES = 20;
}

package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import java.util.HashMap;
import java.util.Map;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;
import qwenchat.engine.cuda.CudaKernels.GemvArgs;
import qwenchat.engine.cuda.CudaKernels.GemvMode;
import qwenchat.model.ModelConfig;

/**
 * The launches of one forward pass over the rows staged in the {@link Workspace}. Two paths, chosen
 * per pass by {@link ProjectionRoute}:
 * <ul>
 * <li>GEMV: per layer norm, fused QKV+bias+RoPE+KV write, split attention, o_proj+residual, norm,
 * fused gate/up+SiLU*mul, down_proj+residual, all with f32 activations; weights are streamed once
 * per step, which is what batch-1 decode is bound by. With {@link DecodeKernels#foldedNorm} the
 * QKV, gate/up and lm_head GEMVs of passes up to 8 rows apply the norms themselves.</li>
 * <li>GEMM: {@link SkinnyGemm} or the tensor-core {@link PrefillGemm} on bf16 copies of the
 * activations, bias/RoPE/KV write in the qkv GEMM's epilogue ({@link PrefillGemm#qkvRope}) or by
 * {@code qkv_rope_store} after it, and causal {@link PrefillAttention}
 * for a single sequence's chunk with head_dim 128 (split attention otherwise); the residual stream
 * stays f32.</li>
 * </ul>
 * Batch invariance (see {@link ProjectionRoute}): besides the projections, every other kernel of a
 * pass is per row already. The split attention in particular cuts each row's keys into
 * {@link CudaKernels#ATTN_SPLIT}-token splits by that row's own length and combines that row's
 * splits only (batch invariance keeps {@link AttentionSplits#tiles}); the grid is sized for the
 * longest row (or its graph bucket) and the splits past a row's length return at once, so batch
 * mates change the grid but never a row's sums.
 * Decode passes are captured as CUDA graphs once per (rows, logit rows, attention plan) and
 * replayed: 28 layers are over 200 launches, whose JNI and driver cost would otherwise exceed the GPU
 * time at batch 1.
 */
final class ForwardPass implements AutoCloseable {
    /** Rows from which the tensor-core GEMM beats the GEMV (which re-reads activations per weight row pair). */
    static final int GEMM_MIN_ROWS = 16;

    private final ModelConfig c;
    private final DeviceWeights w;
    private final DeviceKvCache kv;
    private final Workspace ws;
    private final CudaKernels k;
    private final PrefillGemm gemm;
    /** Null: 16-64-row passes use {@link #gemm} as well. */
    private final SkinnyGemm skinny;
    /** Whether {@link #gemm}'s swiglu for this model takes the one-wave tile ({@link ProjectionRoute#swigluOnGemm}). */
    private final boolean oneWaveSwiglu;
    private final PrefillAttention flash;
    private final CUstream stream;
    private final float ropeScale;
    private final boolean batchInvariant;
    private final DecodeKernels kernels;
    private final int multiprocessors;
    private final Map<GraphKey, CUgraphExec> graphs = new HashMap<>();

    /** A captured decode pass: its rows, logit rows and attention plan (whose grid is a bucket). */
    private record GraphKey(int rows, int logitRows, AttentionSplits attention) {
    }

    ForwardPass(ModelConfig c, DeviceWeights w, DeviceKvCache kv, Workspace ws, CudaKernels k, PrefillGemm gemm,
                SkinnyGemm skinny, PrefillAttention flash, CUstream stream, float ropeScale, boolean batchInvariant,
                DecodeKernels kernels, int multiprocessors) {
        this.c = c;
        this.w = w;
        this.kv = kv;
        this.ws = ws;
        this.k = k;
        this.gemm = gemm;
        this.skinny = skinny;
        this.oneWaveSwiglu = gemm != null && gemm.hasOneWaveSwiglu(c.intermediateSize());
        this.flash = flash;
        this.stream = stream;
        this.ropeScale = ropeScale;
        this.batchInvariant = batchInvariant;
        this.kernels = kernels;
        this.multiprocessors = multiprocessors;
    }

    /** How split attention cuts the keys of {@code rows} rows whose longest attends to {@code maxLength} positions. */
    AttentionSplits attentionPlan(int rows, int maxLength) {
        return AttentionSplits.plan(kernels, batchInvariant, rows, c.numKeyValueHeads(), maxLength, multiprocessors);
    }

    /** Whether the tensor-core kernels can take this model's shapes (K % 64, N % 8). */
    static boolean gemmFits(ModelConfig c) {
        return c.hiddenSize() % 64 == 0 && c.intermediateSize() % 64 == 0 && c.qDim() % 64 == 0 && c.qkvDim() % 8 == 0
                && c.vocabSize() % 8 == 0;
    }

    /**
     * Enqueues a decode pass (rows of distinct sequences); logits for ws.logitRows[0..logitRows).
     *
     * @param maxLength the longest attended length among the rows (position + 1)
     */
    void decode(int rows, int logitRows, int maxLength, boolean useGraph) {
        AttentionSplits plan = attentionPlan(rows, maxLength);
        if (!useGraph || lab != null) {
            layers(rows, plan, -1, 0, 0);
            logits(0, logitRows);
            return;
        }
        AttentionSplits bucket = plan.bucketed(ws.splits);
        GraphKey key = new GraphKey(rows, logitRows, bucket);
        CUgraphExec exec = graphs.get(key);
        if (exec == null) {
            // Run it eagerly this once (so one-time set-up such as raising a kernel's shared-memory
            // limit happens outside the capture), then capture the same launches for later steps.
            layers(rows, bucket, -1, 0, 0);
            logits(0, logitRows);
            graphs.put(key, capture(rows, logitRows, bucket));
            return;
        }
        check(JCudaDriver.cuGraphLaunch(exec, stream), "cuGraphLaunch(rows " + rows + ", " + bucket + ")");
    }

    /**
     * Enqueues the layers for a chunk of one sequence's prompt at positions past..past+rows-1.
     *
     * @param outputFrom the first row whose final hidden state anything reads (its logits): the last
     *     layer stores every row's keys and values but computes attention and the MLP for rows
     *     outputFrom..rows-1 only; {@code rows} for none, 0 for all
     */
    void prefill(int rows, int past, int outputFrom) {
        layers(rows, attentionPlan(rows, past + rows), past, rows, outputFrom);
    }

    /**
     * Whether {@link #mixed} takes a chunk of {@code chunkRows} beside {@code decodeRows} decodes:
     * the pass must go through the prefill GEMM with flash attention for the chunk, the route the
     * GPU tests have verified mixed (narrower passes take the skinny GEMM or the GEMVs and run the
     * decodes separately), and the decodes must fit the split-attention workspace.
     */
    boolean takesMixed(int chunkRows, int decodeRows) {
        int rows = chunkRows + decodeRows;
        return chunkRows >= 1 && decodeRows >= 1 && decodeRows <= ws.rows && rows <= ws.chunk
                && c.headDim() == PrefillAttention.HEAD_DIM && route(rows, true) == ProjectionRoute.PREFILL_GEMM;
    }

    /**
     * Enqueues the layers for a chunk of one sequence's prompt (rows 0..chunkRows-1 at positions
     * past..past+chunkRows-1) and, in the same pass, decode rows of other sequences (rows
     * chunkRows..rows-1): the decode rows share the chunk's projections, so the weights are streamed
     * once for both. The chunk's rows attend through flash attention and the decode rows through
     * split attention. No logits: the caller computes the rows it samples.
     *
     * @param decodeMaxLength the longest attended length among the decode rows (position + 1)
     * @param outputFrom the first row whose final hidden state the caller reads, as in {@link #prefill}
     */
    void mixed(int chunkRows, int past, int rows, int decodeMaxLength, int outputFrom) {
        if (!takesMixed(chunkRows, rows - chunkRows)) {
            throw new IllegalArgumentException("a mixed pass takes a chunk and 1.." + ws.rows + " decode rows through the"
                    + " prefill GEMM with flash attention, at most " + ws.chunk + " rows; got " + chunkRows + " + "
                    + (rows - chunkRows));
        }
        layers(rows, attentionPlan(rows - chunkRows, decodeMaxLength), past, chunkRows, outputFrom);
    }

    private CUgraphExec capture(int rows, int logitRows, AttentionSplits attention) {
        check(JCudaDriver.cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                "cuStreamBeginCapture");
        CUgraph graph = new CUgraph();
        try {
            layers(rows, attention, -1, 0, 0);
            logits(0, logitRows);
        } finally {
            check(JCudaDriver.cuStreamEndCapture(stream, graph), "cuStreamEndCapture");
        }
        CUgraphExec exec = new CUgraphExec();
        check(JCudaDriver.cuGraphInstantiate(exec, graph, 0), "cuGraphInstantiate(rows " + rows + ")");
        check(JCudaDriver.cuGraphDestroy(graph), "cuGraphDestroy");
        return exec;
    }

    int capturedGraphs() {
        return graphs.size();
    }

    private ProjectionRoute route(int rows, boolean prefill) {
        return ProjectionRoute.of(rows, prefill, batchInvariant, gemm != null, skinny != null);
    }

    /**
     * @param past >= 0: rows 0..chunkRows-1 are one sequence's prompt chunk starting there (flash
     *     attention allowed for them); -1: every row is a decode
     * @param chunkRows how many leading rows are that chunk; the rest are decode rows
     * @param outputFrom rows before it need no final hidden state: the last layer of the tensor-core
     *     routes stops at their keys and values (1/28 of an 8K prompt's work on the 7B); 0 for all rows
     */
    private void layers(int rows, AttentionSplits attention, int past, int chunkRows, int outputFrom) {
        if (outputFrom < 0 || outputFrom > rows) {
            throw new IllegalArgumentException("output rows start at " + outputFrom + ", outside the pass's 0.." + rows);
        }
        int h = c.hiddenSize();
        k.embedRows(ws.tokens.ptr(), w.embed.ptr(), ws.x.ptr(), rows, h);
        ProjectionRoute route = route(rows, past >= 0);
        // Every layer's qkv epilogue on the tensor-core routes rotates by the same positions.
        if (route != ProjectionRoute.GEMV) {
            k.ropeTable(ws.positions.ptr(), ws.invFreq.ptr(), ropeScale, ws.ropeTable.ptr(), rows, c.headDim());
        }
        int last = c.numHiddenLayers() - 1;
        for (int l = 0; l <= last; l++) {
            // A lab pass reads no more than the rows a plain pass reads (its probe is a logit row), and
            // takes the same kernels: a lab pass that ablates nothing gives a plain pass's bits.
            int from = l == last ? outputFrom : 0;
            if (route == ProjectionRoute.GEMV) gemvLayer(l, rows, attention);
            else gemmLayer(l, rows, attention, past, chunkRows, route == ProjectionRoute.SKINNY, from);
            if (lab != null) lab.afterLayer(l);
        }
    }

    private void gemvLayer(int l, int rows, AttentionSplits attention) {
        DeviceWeights.Layer L = w.layers.get(l);
        DeviceBuffer kc = kv.k.get(l);
        DeviceBuffer vc = kv.v.get(l);
        gemvQkv(L, kc, vc, ws.x.ptr(), ws.slots.ptr(), ws.positions.ptr(), rows, lab == null ? null : lab.maskRow(l));
        if (lab != null) lab.afterQkv(l, ws.q.ptr(), kc);
        splitAttention(ws.q.ptr(), kc, vc, ws.attn.ptr(), null, 0, rows, 0, 0, attention);
        gemvAfterAttention(L, ws.x.ptr(), rows);
    }

    /**
     * The GEMV route's fused q/k/v projection of {@code rows} rows whose residual rows start at
     * {@code x} and whose slots and positions start at {@code slots} and {@code positions}: the norm
     * (folded where {@link DecodeKernels#foldsNorm}), bias, RoPE, q into ws.q rows 0..rows-1 (f32), keys
     * and values into the cache; {@code biasOff} the bias lab's mask rows, or null.
     */
    private void gemvQkv(DeviceWeights.Layer L, DeviceBuffer kc, DeviceBuffer vc, CUdeviceptr x, CUdeviceptr slots,
                         CUdeviceptr positions, int rows, CUdeviceptr biasOff) {
        int h = c.hiddenSize();
        float eps = (float) c.rmsNormEps();
        GemvArgs qkvArgs = new GemvArgs(ws.q.ptr(), null, L.qkvBias().ptr(), ws.invFreq.ptr(), ropeScale, kc.ptr(), vc.ptr(),
                slots, positions, c.qDim(), c.kvDim(), c.headDim(), kv.paged());
        if (kernels.foldsNorm(rows)) {
            k.gemvNormed(GemvMode.QKV, L.qkv().ptr(), x, L.inputNorm().ptr(), null, eps, c.qkvDim(), h, rows, qkvArgs, biasOff);
        } else {
            k.rmsnorm(x, L.inputNorm().ptr(), ws.xn.ptr(), null, rows, h, eps);
            k.gemv(GemvMode.QKV, L.qkv().ptr(), ws.xn.ptr(), c.qkvDim(), h, rows, qkvArgs, biasOff);
        }
    }

    /**
     * The GEMV route's layer after attention, for {@code rows} rows whose f32 attention output is in
     * ws.attn rows 0..rows-1 and whose residual rows start at {@code x}: o_proj + residual, the norm
     * (folded into gate/up where {@link DecodeKernels#foldsNorm}), gate/up + SwiGLU, down_proj + residual.
     */
    private void gemvAfterAttention(DeviceWeights.Layer L, CUdeviceptr x, int rows) {
        int h = c.hiddenSize();
        float eps = (float) c.rmsNormEps();
        k.gemv(GemvMode.RESIDUAL, L.o().ptr(), ws.attn.ptr(), h, c.qDim(), rows, GemvArgs.out(x));
        if (kernels.foldsNorm(rows)) {
            k.gemvNormed(GemvMode.SWIGLU, L.gateUp().ptr(), x, L.postNorm().ptr(), null, eps, 2 * c.intermediateSize(), h, rows,
                    GemvArgs.swiglu(ws.act.ptr()));
        } else {
            k.rmsnorm(x, L.postNorm().ptr(), ws.xn.ptr(), null, rows, h, eps);
            k.gemv(GemvMode.SWIGLU, L.gateUp().ptr(), ws.xn.ptr(), 2 * c.intermediateSize(), h, rows,
                    GemvArgs.swiglu(ws.act.ptr()));
        }
        k.gemv(GemvMode.RESIDUAL, L.down().ptr(), ws.act.ptr(), h, c.intermediateSize(), rows, GemvArgs.out(x));
    }

    /**
     * Whether a prompt chunk's last layer runs its output rows from..rows-1 (the rows whose logits are
     * read) through split attention and the GEMVs instead of the chunk's kernels: a few rows attend to
     * the whole prompt, which the flash kernel's one-tile block walks key tile by key tile (an 8K prompt's
     * one row took 317 us of attention on an H100, and its o_proj and down_proj 195 us on the narrow
     * GEMM tile). Not with batch invariance, where those rows keep the bits of a pass that runs every
     * row (BatchInvariantEngineTest), nor in a pass with decode rows.
     */
    private boolean tailOnGemv(int rows, int chunkRows, int from) {
        int m = rows - from;
        return !batchInvariant && from > 0 && chunkRows == rows && m <= DecodeKernels.FOLDED_NORM_MAX_ROWS && m <= ws.rows;
    }

    /**
     * @param from rows before it only store their keys and values; attention, o_proj and the MLP run
     *     for rows from..rows-1 (0: every row)
     */
    private void gemmLayer(int l, int rows, AttentionSplits attention, int past, int chunkRows, boolean thin, int from) {
        int h = c.hiddenSize();
        int hd = c.headDim();
        int inter = c.intermediateSize();
        float eps = (float) c.rmsNormEps();
        DeviceWeights.Layer L = w.layers.get(l);
        DeviceBuffer kc = kv.k.get(l);
        DeviceBuffer vc = kv.v.get(l);
        boolean useFlash = past >= 0 && chunkRows > 0 && hd == PrefillAttention.HEAD_DIM;
        k.rmsnorm(ws.x.ptr(), L.inputNorm().ptr(), null, ws.xnb.ptr(), null, rows, h, eps);
        // A last layer whose few output rows take the GEMVs (tailOnGemv) projects only the rows before
        // them here, for their keys and values (on the 7B, 1024 of the 4608 columns where the fused
        // kernel takes the pass); the tail rows' q, keys and values come from the GEMV below.
        boolean tail = tailOnGemv(rows, chunkRows, from);
        int projected = tail ? from : rows;
        // The chunk's f32 q is read by nobody but the bias lab: flash attention takes the bf16 copy,
        // and only the decode rows after the chunk attend from f32 q (8K rows: 117 MB of writes a layer).
        int qF32From = useFlash && lab == null ? Math.min(chunkRows, projected) : 0;
        QkvEpilogue qkv = new QkvEpilogue(L.qkvBias().ptr(), ws.ropeTable.ptr(), ws.qGemm.ptr(),
                useFlash ? ws.qb.ptr() : null, kc.ptr(), vc.ptr(), ws.slots.ptr(), ws.positions.ptr(), c.qDim(), c.kvDim(), hd,
                kv.paged(), lab == null ? null : lab.maskRow(l), qF32From);
        if (thin || !gemm.qkvRope(ws.xnb.ptr(), L.qkv().ptr(), projected, h, qkv, tail ? c.qDim() : 0)) {
            if (thin) skinny.linearF32(ws.xnb.ptr(), L.qkv().ptr(), projected, c.qkvDim(), h, ws.qkvF32.ptr());
            else gemm.linearF32(ws.xnb.ptr(), L.qkv().ptr(), projected, c.qkvDim(), h, ws.qkvF32.ptr());
            k.qkvRopeStore(ws.qkvF32.ptr(), projected, qkv);
        }
        if (lab != null && !tail) lab.afterQkv(l, ws.qGemm.ptr(), kc);
        int m = rows - from;  // rows that go on past their keys and values
        if (m == 0) return;
        if (tail) {
            CUdeviceptr x = ws.x.at(4L * h * from);
            CUdeviceptr mask = lab == null || lab.maskRow(l) == null ? null : lab.maskRow(l).withByteOffset(4L * from);
            gemvQkv(L, kc, vc, x, ws.slots.at(4L * from), ws.positions.at(4L * from), m, mask);
            if (lab != null) lab.afterQkv(l, ws.q.ptr(), from, kc);
            splitAttention(ws.q.ptr(), kc, vc, ws.attn.ptr(), null, from, rows, from, from, attentionPlan(m, past + rows));
            gemvAfterAttention(L, x, m);
            return;
        }
        long qRow = 2L * c.qDim();  // bytes of a bf16 q or attention row
        if (useFlash && from < chunkRows) {
            // One sequence: the kernel follows its table row through positions 0..past+chunkRows-1.
            // A row's bits do not depend on where its chunk starts (PrefillAttention.Tiles keeps them
            // from depending on the chunk's length too), so starting at row from changes no output.
            flash.causal(ws.qb.at(qRow * from), kc.ptr(), vc.ptr(), kv.tableRow(currentSlot), kv.blockSize,
                    ws.attnb.at(qRow * from), new PrefillAttention.Strides(c.qDim(), hd, c.qDim(), hd), chunkRows - from,
                    past + from, c.numAttentionHeads(), c.numKeyValueHeads());
        }
        int splitFrom = useFlash ? Math.max(from, chunkRows) : from;
        // Straight into the bf16 operand of o_proj: the same rounding as a separate conversion, one launch fewer.
        if (rows > splitFrom) splitAttention(ws.qGemm.ptr(), kc, vc, null, ws.attnb.ptr(), splitFrom, rows, 0, 0, attention);
        CUdeviceptr attnb = ws.attnb.at(qRow * from);
        CUdeviceptr x = ws.x.at(4L * h * from);
        CUdeviceptr xnb = ws.xnb.at(2L * h * from);
        CUdeviceptr actb = ws.actb.at(2L * inter * from);
        if (thin) skinny.linearAddF32(attnb, L.o().ptr(), m, h, c.qDim(), x);
        else gemm.linearAddF32(attnb, L.o().ptr(), m, h, c.qDim(), x);
        k.rmsnorm(x, L.postNorm().ptr(), null, xnb, null, m, h, eps);
        if (thin) {
            if (ProjectionRoute.swigluOnGemm(m, batchInvariant, oneWaveSwiglu)) {
                gemm.swiglu(xnb, L.gateUp().ptr(), m, inter, h, actb);
            } else {
                skinny.swiglu(xnb, L.gateUp().ptr(), m, inter, h, actb);
            }
            skinny.linearAddF32(actb, L.down().ptr(), m, h, inter, x);
        } else {
            gemm.swiglu(xnb, L.gateUp().ptr(), m, inter, h, actb);
            gemm.linearAddF32(actb, L.down().ptr(), m, h, inter, x);
        }
    }

    /** The sequence a prefill chunk belongs to (its block table row); set by the engine before {@link #prefill}. */
    int currentSlot;

    /** The bias lab's mask and probe during a lab pass (never a graph-captured one); null otherwise. */
    BiasLabDevice lab;

    /**
     * Attention of the pass's rows first..end-1 (their slots and positions) into f32 {@code out} and/or
     * bf16 {@code outBf16} (either may be null): q is [][qDim] f32 whose row 0 is the pass's row
     * {@code qFirst}, out and outBf16 [][qDim] whose row 0 is row {@code outFirst} (0: the whole pass's
     * operands).
     */
    private void splitAttention(CUdeviceptr q, DeviceBuffer kc, DeviceBuffer vc, CUdeviceptr out, CUdeviceptr outBf16, int first,
                                int end, int qFirst, int outFirst, AttentionSplits attention) {
        int rows = end - first;
        if (rows > ws.rows) {
            throw new IllegalStateException("split attention takes at most " + ws.rows + " rows, got " + rows);
        }
        int hd = c.headDim();
        long qRow = (long) c.qDim() * (first - qFirst);
        long outRow = (long) c.qDim() * (first - outFirst);
        q = q.withByteOffset(4 * qRow);
        if (out != null) out = out.withByteOffset(4 * outRow);
        if (outBf16 != null) outBf16 = outBf16.withByteOffset(2 * outRow);
        CUdeviceptr slots = ws.slots.at(4L * first);
        CUdeviceptr positions = ws.positions.at(4L * first);
        float scale = (float) (1.0 / Math.sqrt(hd));
        k.attention(new CudaKernels.AttentionOperands(q, kc.ptr(), vc.ptr(), slots, positions, ws.partO.ptr(), ws.partMl.ptr(),
                        ws.attnCounters.ptr(), out, outBf16, ws.splits), rows, c.numAttentionHeads(), c.numKeyValueHeads(), hd,
                kv.paged(), attention, scale, kernels);
    }

    /** Final norm and lm_head for ws.logitRows[from..from+count) into ws.logits rows 0..count-1 (count <= the workspace's rows). */
    void logits(int from, int count) {
        if (count <= 0) return;
        int h = c.hiddenSize();
        float eps = (float) c.rmsNormEps();
        CUdeviceptr rowIndex = ws.logitRows.at(4L * from);
        ProjectionRoute route = route(count, false);
        if (route != ProjectionRoute.GEMV) {
            k.rmsnorm(ws.x.ptr(), w.finalNorm.ptr(), null, ws.xnb.ptr(), rowIndex, count, h, eps);
            if (route == ProjectionRoute.SKINNY) skinny.linearF32(ws.xnb.ptr(), w.lmHead.ptr(), count, c.vocabSize(), h, ws.logits.ptr());
            else gemm.linearF32(ws.xnb.ptr(), w.lmHead.ptr(), count, c.vocabSize(), h, ws.logits.ptr());
        } else if (kernels.foldsNorm(count)) {
            k.gemvNormed(GemvMode.PLAIN, w.lmHead.ptr(), ws.x.ptr(), w.finalNorm.ptr(), rowIndex, eps, c.vocabSize(), h, count,
                    GemvArgs.out(ws.logits.ptr()));
        } else {
            k.rmsnorm(ws.x.ptr(), w.finalNorm.ptr(), ws.xn.ptr(), null, rowIndex, count, h, eps);
            k.gemv(GemvMode.PLAIN, w.lmHead.ptr(), ws.xn.ptr(), c.vocabSize(), h, count, GemvArgs.out(ws.logits.ptr()));
        }
    }

    @Override
    public void close() {
        for (CUgraphExec e : graphs.values()) JCudaDriver.cuGraphExecDestroy(e);
        graphs.clear();
    }
}

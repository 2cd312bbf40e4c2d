package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import java.util.HashMap;
import java.util.Map;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;
import qwenchat.engine.cuda.CudaKernels.GemvArgs;
import qwenchat.engine.cuda.CudaKernels.GemvMode;
import qwenchat.model.ModelConfig;

/**
 * The launches of one forward pass over the rows staged in the {@link Workspace}: embedding, per
 * layer (norm, fused QKV+bias+RoPE+KV write, split attention, o_proj+residual, norm, fused
 * gate/up+SiLU*mul, down_proj+residual), then final norm and lm_head on the logit rows. With
 * graphs on, a pass is captured once per (rows, logit rows, attention splits) and replayed: 28
 * layers are ~230 launches, whose JNI and driver cost would otherwise exceed the GPU time at batch 1.
 */
final class ForwardPass implements AutoCloseable {
    private final ModelConfig c;
    private final DeviceWeights w;
    private final DeviceKvCache kv;
    private final Workspace ws;
    private final CudaKernels k;
    private final CUstream stream;
    private final int maxT;
    private final float ropeScale;
    private final Map<Long, CUgraphExec> graphs = new HashMap<>();

    ForwardPass(ModelConfig c, DeviceWeights w, DeviceKvCache kv, Workspace ws, CudaKernels k, CUstream stream, int maxT,
                float ropeScale) {
        this.c = c;
        this.w = w;
        this.kv = kv;
        this.ws = ws;
        this.k = k;
        this.stream = stream;
        this.maxT = maxT;
        this.ropeScale = ropeScale;
    }

    /**
     * Enqueues the pass. The row inputs must already be in the workspace (copied on the same stream).
     *
     * @param rows activation rows (1..64)
     * @param logitRows how many entries of ws.logitRows to produce logits for (0 = none)
     * @param maxLength the longest attended length among the rows (position + 1)
     */
    void enqueue(int rows, int logitRows, int maxLength, boolean useGraph) {
        int gridSplits = CudaKernels.splitsFor(maxLength);
        if (!useGraph) {
            launches(rows, logitRows, gridSplits);
            return;
        }
        // Round the splits up to a power of two so a growing context re-captures only log2(maxT) times.
        int bucket = Integer.highestOneBit(Math.max(1, gridSplits - 1)) << 1;
        if (gridSplits == 1) bucket = 1;
        bucket = Math.min(bucket, ws.splits);
        long key = ((long) rows << 40) | ((long) logitRows << 20) | bucket;
        CUgraphExec exec = graphs.get(key);
        if (exec == null) {
            exec = capture(rows, logitRows, bucket);
            graphs.put(key, exec);
        }
        check(JCudaDriver.cuGraphLaunch(exec, stream), "cuGraphLaunch(rows " + rows + ", splits " + bucket + ")");
    }

    private CUgraphExec capture(int rows, int logitRows, int gridSplits) {
        check(JCudaDriver.cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                "cuStreamBeginCapture");
        CUgraph graph = new CUgraph();
        try {
            launches(rows, logitRows, gridSplits);
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

    private void launches(int rows, int logitRows, int gridSplits) {
        int h = c.hiddenSize();
        int hd = c.headDim();
        float eps = (float) c.rmsNormEps();
        float scale = (float) (1.0 / Math.sqrt(hd));
        k.embedRows(ws.tokens.ptr(), w.embed.ptr(), ws.x.ptr(), rows, h);
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            DeviceWeights.Layer L = w.layers.get(l);
            DeviceBuffer kc = kv.k.get(l);
            DeviceBuffer vc = kv.v.get(l);
            k.rmsnorm(ws.x.ptr(), L.inputNorm().ptr(), ws.xn.ptr(), null, rows, h, eps);
            k.gemv(GemvMode.QKV, L.qkv().ptr(), ws.xn.ptr(), c.qkvDim(), h, rows,
                    new GemvArgs(ws.q.ptr(), null, L.qkvBias().ptr(), ws.invFreq.ptr(), ropeScale, kc.ptr(), vc.ptr(),
                            ws.slots.ptr(), ws.positions.ptr(), c.qDim(), c.kvDim(), hd, maxT));
            k.attentionPartial(ws.q.ptr(), kc.ptr(), vc.ptr(), ws.slots.ptr(), ws.positions.ptr(), ws.partO.ptr(),
                    ws.partMl.ptr(), rows, c.numAttentionHeads(), c.numKeyValueHeads(), hd, maxT, gridSplits, ws.splits, scale);
            k.attentionCombine(ws.partO.ptr(), ws.partMl.ptr(), ws.positions.ptr(), ws.attn.ptr(), rows,
                    c.numAttentionHeads(), hd, ws.splits);
            k.gemv(GemvMode.RESIDUAL, L.o().ptr(), ws.attn.ptr(), h, c.qDim(), rows, GemvArgs.out(ws.x.ptr()));
            k.rmsnorm(ws.x.ptr(), L.postNorm().ptr(), ws.xn.ptr(), null, rows, h, eps);
            k.gemv(GemvMode.SWIGLU, L.gateUp().ptr(), ws.xn.ptr(), 2 * c.intermediateSize(), h, rows,
                    GemvArgs.swiglu(ws.act.ptr()));
            k.gemv(GemvMode.RESIDUAL, L.down().ptr(), ws.act.ptr(), h, c.intermediateSize(), rows, GemvArgs.out(ws.x.ptr()));
        }
        if (logitRows > 0) {
            k.rmsnorm(ws.x.ptr(), w.finalNorm.ptr(), ws.xn.ptr(), ws.logitRows.ptr(), logitRows, h, eps);
            k.gemv(GemvMode.PLAIN, w.lmHead.ptr(), ws.xn.ptr(), c.vocabSize(), h, logitRows, GemvArgs.out(ws.logits.ptr()));
        }
    }

    @Override
    public void close() {
        for (CUgraphExec e : graphs.values()) JCudaDriver.cuGraphExecDestroy(e);
        graphs.clear();
    }
}

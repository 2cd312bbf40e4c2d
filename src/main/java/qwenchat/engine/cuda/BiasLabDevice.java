package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import qwenchat.engine.BiasMask;
import qwenchat.engine.LabProbe;
import qwenchat.engine.cuda.CudaKernels.GemvArgs;
import qwenchat.engine.cuda.CudaKernels.GemvMode;
import qwenchat.model.ModelConfig;

/**
 * The device side of bias-lab passes, allocated at the first one so ordinary serving never pays
 * for it: the per-row mask the QKV epilogues read, and the probe's buffers. {@link ForwardPass}
 * holds it only during a lab pass (its {@code lab} field) and calls {@link #afterQkv} and
 * {@link #afterLayer}; such passes run eagerly, never from a captured graph.
 */
final class BiasLabDevice implements AutoCloseable {

    private final ModelConfig c;
    private final DeviceWeights w;
    private final DeviceKvCache kv;
    private final Workspace ws;
    private final CudaKernels k;
    private final CUstream stream;
    private final DeviceBuffer biasOff;    // int [layers][rows of the pass]
    private final DeviceBuffer residuals;  // f32 [layers][hidden], the probed row after each layer
    private final DeviceBuffer stats;      // f32 [layers][heads][2]: entropy, weight on position 0
    private int rows;
    private boolean masked;
    private int probeRow = -1;

    BiasLabDevice(ModelConfig c, DeviceWeights w, DeviceKvCache kv, Workspace ws, CudaKernels k, CUstream stream) {
        this.c = c;
        this.w = w;
        this.kv = kv;
        this.ws = ws;
        this.k = k;
        this.stream = stream;
        int layers = c.numHiddenLayers();
        this.biasOff = DeviceBuffer.allocate("bias lab mask", 4L * layers * ws.chunk);
        this.residuals = DeviceBuffer.allocate("bias lab residuals", 4L * layers * c.hiddenSize());
        this.stats = DeviceBuffer.allocate("bias lab attention statistics", 8L * layers * c.numAttentionHeads());
    }

    /**
     * Prepares a pass of {@code n} rows (inside the context's call, before its kernels are queued).
     *
     * @param masks each row's mask, null entries (or a null array) for rows that keep every bias
     * @param probeRow the row to measure, or -1
     */
    void begin(BiasMask[] masks, int n, int probeRow) {
        if (n > ws.chunk) throw new IllegalArgumentException("a lab pass takes at most " + ws.chunk + " rows, got " + n);
        this.rows = n;
        this.probeRow = probeRow;
        int layers = c.numHiddenLayers();
        int[] bits = new int[layers * n];  // [layers][n]
        masked = false;
        for (int r = 0; masks != null && r < n; r++) {
            if (masks[r] == null) continue;
            for (int l = 0; l < layers; l++) {
                bits[l * n + r] = masks[r].bits(l);
                masked |= bits[l * n + r] != 0;
            }
        }
        if (masked) {
            // The previous pass's kernels may still read the mask: upload only once the stream is idle.
            check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize(bias lab mask)");
            biasOff.copyFromHost(Pointer.to(bits), 0, 4L * bits.length);
        }
    }

    /** The layer's mask row for the QKV epilogue ([rows] ints), null when no row of the pass drops a bias. */
    CUdeviceptr maskRow(int layer) {
        return masked ? biasOff.at(4L * layer * rows) : null;
    }

    /** After the layer's QKV epilogue stored the keys: attention statistics of the probed row. */
    void afterQkv(int layer, CUdeviceptr q, DeviceBuffer kPool) {
        afterQkv(layer, q, 0, kPool);
    }

    /**
     * As {@link #afterQkv(int, CUdeviceptr, DeviceBuffer)} with f32 q rows that start at the pass's row
     * {@code qFirst} (at most the probed row): a last layer whose output rows took the GEMVs.
     */
    void afterQkv(int layer, CUdeviceptr q, int qFirst, DeviceBuffer kPool) {
        if (probeRow < 0) return;
        if (qFirst > probeRow) throw new IllegalArgumentException("q rows from " + qFirst + " lack the probed row " + probeRow);
        int heads = c.numAttentionHeads();
        k.attentionProbe(q.withByteOffset(4L * c.qDim() * (probeRow - qFirst)), kPool.ptr(), ws.slots.at(4L * probeRow),
                ws.positions.at(4L * probeRow), 0, heads, c.numKeyValueHeads(), c.headDim(), (float) (1.0 / Math.sqrt(c.headDim())),
                kv.paged(), stats.at(8L * layer * heads));
    }

    /** After the layer's residual adds: keeps the probed row of the residual stream. */
    void afterLayer(int layer) {
        if (probeRow < 0) return;
        long bytes = 4L * c.hiddenSize();
        check(JCudaDriver.cuMemcpyDtoDAsync(residuals.at(bytes * layer), ws.x.at(bytes * probeRow), bytes, stream),
                "cuMemcpyDtoDAsync(bias lab residual)");
    }

    /**
     * The probe's results: final norm and lm_head over the kept residuals (in groups of the
     * workspace's rows, through ws.xn and ws.logits, so only once the pass's own logits are read),
     * and the attention statistics.
     */
    LabProbe read() {
        int layers = c.numHiddenLayers();
        int h = c.hiddenSize();
        int v = c.vocabSize();
        float[][] lens = new float[layers][v];
        for (int g = 0; g < layers; g += ws.rows) {
            int n = Math.min(ws.rows, layers - g);
            k.rmsnorm(residuals.at(4L * g * h), w.finalNorm.ptr(), ws.xn.ptr(), null, n, h, (float) c.rmsNormEps());
            k.gemv(GemvMode.PLAIN, w.lmHead.ptr(), ws.xn.ptr(), v, h, n, GemvArgs.out(ws.logits.ptr()));
            check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize(bias lab lens)");
            for (int r = 0; r < n; r++) ws.logits.copyToHost(Pointer.to(lens[g + r]), 4L * r * v, 4L * v);
        }
        int heads = c.numAttentionHeads();
        float[] flat = new float[layers * heads * 2];
        stats.copyToHost(flat);
        float[][] entropy = new float[layers][heads];
        float[][] sink = new float[layers][heads];
        for (int l = 0; l < layers; l++) {
            for (int hh = 0; hh < heads; hh++) {
                entropy[l][hh] = flat[2 * (l * heads + hh)];
                sink[l][hh] = flat[2 * (l * heads + hh) + 1];
            }
        }
        probeRow = -1;
        return new LabProbe(lens, entropy, sink);
    }

    @Override
    public void close() {
        biasOff.close();
        residuals.close();
        stats.close();
    }
}

package qwenchat.engine.cpu;

import java.util.Arrays;
import qwenchat.engine.BiasMask;
import qwenchat.engine.LabProbe;
import qwenchat.model.ModelConfig;

/**
 * The Qwen2 decoder over a batch of tokens that may belong to different sequences, in float32:
 * each token is appended to its sequence's KV cache at its position and attends causally to that
 * sequence's cache. A prefill is a batch of one sequence's tokens; a batched decode one token per
 * sequence. Every weight matrix is streamed once per batch. Keys and values live in the paged
 * {@link PagedKvStore} and are found through each sequence's block table.
 */
final class Qwen2Forward {

    private final ModelConfig c;
    private final ModelWeights w;
    private final MatrixOps ops;
    private final Parallel parallel;
    private final Rope rope;
    private final float attnScale;
    private final PagedKvStore kv;

    Qwen2Forward(ModelConfig c, ModelWeights w, MatrixOps ops, Parallel parallel, PagedKvStore kv) {
        this.c = c;
        this.kv = kv;
        this.w = w;
        this.ops = ops;
        this.parallel = parallel;
        this.rope = Rope.of(c);
        this.attnScale = (float) (1.0 / Math.sqrt(c.headDim()));
    }

    /**
     * Runs the batch; the caller has appended the tokens to the block tables (so their blocks
     * exist) and advances the computed lengths afterwards.
     *
     * @param seqs the sequence of each token
     * @param positions each token's position in its sequence
     * @param outputRows tokens whose logits to return; the last layer runs attention and the MLP
     *     from the first of them on (every token's keys and values are stored)
     * @return {@code [outputRows.length][vocab]}
     */
    float[][] run(int[] tokens, SequenceState[] seqs, int[] positions, int[] outputRows) {
        return run(tokens, seqs, positions, outputRows, null, null);
    }

    /**
     * A bias-lab pass: like {@link #run(int[], SequenceState[], int[], int[])}, with each token's
     * masked q/k/v biases left out and one row measured.
     *
     * @param masks each token's bias mask, or null (entries may be null): biases as loaded
     * @param probe the row to measure and where its measurements go, or null
     */
    float[][] run(int[] tokens, SequenceState[] seqs, int[] positions, int[] outputRows, BiasMask[] masks, Probe probe) {
        int n = tokens.length;
        int hidden = c.hiddenSize();
        int qDim = c.qDim();
        int kvDim = c.kvDim();
        int hd = c.headDim();
        float[][] x = new float[n][hidden];        // residual stream
        float[][] xn = new float[n][hidden];       // normed input of a block
        float[][] q = new float[n][qDim];
        float[][] k = new float[n][kvDim];
        float[][] v = new float[n][kvDim];
        float[][] attn = new float[n][qDim];
        float[][] proj = new float[n][hidden];
        float[][] gate = new float[n][c.intermediateSize()];
        float[][] up = new float[n][c.intermediateSize()];
        float[][] cos = new float[n][hd / 2];
        float[][] sin = new float[n][hd / 2];
        for (int t = 0; t < n; t++) {
            if (tokens[t] < 0 || tokens[t] >= c.vocabSize()) {
                throw new IllegalArgumentException("token id " + tokens[t] + " is outside the vocabulary [0, "
                        + c.vocabSize() + ")");
            }
            w.embed().readRow(tokens[t], x[t]);
            rope.cosSin(positions[t], cos[t], sin[t]);
        }
        int lastLayer = w.layers().length - 1;
        // Rows before the first output row need no final hidden state: the last layer stops at their
        // keys and values. A probe measures its row at every layer, so a lab pass runs every row.
        int tailFrom = probe == null ? firstOutputRow(outputRows, n) : 0;
        for (int l = 0; l <= lastLayer; l++) {
            LayerWeights lw = w.layers()[l];
            rmsNorm(x, n, lw.inputNorm(), xn);
            ops.matmul(lw.q(), xn, n, q);
            ops.matmul(lw.k(), xn, n, k);
            ops.matmul(lw.v(), xn, n, v);
            for (int t = 0; t < n; t++) {
                BiasMask m = masks == null ? null : masks[t];
                if (m == null || m.keeps(l, BiasMask.Q)) addBias(q[t], lw.qBias());
                if (m == null || m.keeps(l, BiasMask.K)) addBias(k[t], lw.kBias());
                if (m == null || m.keeps(l, BiasMask.V)) addBias(v[t], lw.vBias());
                Rope.rotate(q[t], 0, c.numAttentionHeads(), hd, cos[t], sin[t]);
                Rope.rotate(k[t], 0, c.numKeyValueHeads(), hd, cos[t], sin[t]);
                kv.write(l, seqs[t].table, positions[t], k[t], v[t]);
            }
            int from = l == lastLayer ? tailFrom : 0;
            int m = n - from;  // rows that go on past their keys and values
            if (m == 0) continue;
            // Views of rows from..n-1; the row arrays are shared, so results land in place.
            float[][] xs = tail(x, from), xns = tail(xn, from), attns = tail(attn, from), projs = tail(proj, from);
            float[][] gates = tail(gate, from), ups = tail(up, from);
            attention(l, tail(q, from), from == 0 ? seqs : Arrays.copyOfRange(seqs, from, n),
                    from == 0 ? positions : Arrays.copyOfRange(positions, from, n), m, attns, probe);
            ops.matmul(lw.o(), attns, m, projs);
            addInto(xs, projs, m);
            rmsNorm(xs, m, lw.postNorm(), xns);
            ops.matmul(lw.gate(), xns, m, gates);
            ops.matmul(lw.up(), xns, m, ups);
            for (int t = 0; t < m; t++) {
                float[] g = gates[t];
                float[] u = ups[t];
                for (int i = 0; i < g.length; i++) g[i] = g[i] / (1f + (float) Math.exp(-g[i])) * u[i];
            }
            ops.matmul(lw.down(), gates, m, projs);
            addInto(xs, projs, m);
            if (probe != null) probe.residuals[l] = x[probe.row].clone();
        }
        if (probe != null) {
            float[][] normed = new float[probe.residuals.length][hidden];
            rmsNorm(probe.residuals, normed.length, w.finalNorm(), normed);
            probe.layerLogits = new float[normed.length][c.vocabSize()];
            ops.matmul(w.lmHead(), normed, normed.length, probe.layerLogits);
        }
        if (outputRows.length == 0) return new float[0][];
        float[][] last = new float[outputRows.length][];
        for (int i = 0; i < outputRows.length; i++) last[i] = x[outputRows[i]];
        float[][] normed = new float[outputRows.length][hidden];
        rmsNorm(last, last.length, w.finalNorm(), normed);
        float[][] logits = new float[outputRows.length][c.vocabSize()];
        ops.matmul(w.lmHead(), normed, normed.length, logits);
        return logits;
    }

    /** The first of the rows whose logits a pass returns, or {@code n} for none. */
    private static int firstOutputRow(int[] outputRows, int n) {
        int first = n;
        for (int r : outputRows) first = Math.min(first, r);
        return first;
    }

    /** Rows from..end of a batch's per-row arrays, sharing them (no copy of a row). */
    private static float[][] tail(float[][] rows, int from) {
        return from == 0 ? rows : Arrays.copyOfRange(rows, from, rows.length);
    }

    /**
     * Causal GQA attention of each token over its own sequence's cache, in parallel over (token,
     * head), walking the sequence's blocks in position order so scores and sums accumulate in the
     * same order as over one contiguous cache.
     */
    private void attention(int layer, float[][] q, SequenceState[] seqs, int[] positions, int n, float[][] out,
            Probe probe) {
        int heads = c.numAttentionHeads();
        int hd = c.headDim();
        int group = c.groupSize();
        int bs = kv.blockSize();
        parallel.forRange(n * heads, 4, (start, end) -> {
            float[] scores = null;
            for (int job = start; job < end; job++) {
                int t = job / heads;
                int h = job % heads;
                int len = positions[t] + 1;
                if (scores == null || scores.length < len) scores = new float[Math.max(len, 64)];
                var table = seqs[t].table;
                int headAt = kv.headOffset(h / group);
                int qOff = h * hd;
                float[] qt = q[t];
                float max = Float.NEGATIVE_INFINITY;
                for (int p0 = 0; p0 < len; p0 += bs) {
                    float[] keys = kv.keyBlock(layer, table.block(p0));
                    int inBlock = Math.min(bs, len - p0);
                    for (int i = 0; i < inBlock; i++) {
                        int kb = headAt + i * hd;
                        float s = 0;
                        for (int d = 0; d < hd; d++) s += qt[qOff + d] * keys[kb + d];
                        s *= attnScale;
                        scores[p0 + i] = s;
                        if (s > max) max = s;
                    }
                }
                float sum = 0;
                for (int p = 0; p < len; p++) {
                    float e = (float) Math.exp(scores[p] - max);
                    scores[p] = e;
                    sum += e;
                }
                float[] o = out[t];
                for (int d = 0; d < hd; d++) o[qOff + d] = 0;
                float inv = 1f / sum;
                if (probe != null && t == probe.row) probe.attention(layer, h, scores, len, inv);
                for (int p0 = 0; p0 < len; p0 += bs) {
                    float[] values = kv.valueBlock(layer, table.block(p0));
                    int inBlock = Math.min(bs, len - p0);
                    for (int i = 0; i < inBlock; i++) {
                        float a = scores[p0 + i] * inv;
                        int vb = headAt + i * hd;
                        for (int d = 0; d < hd; d++) o[qOff + d] += a * values[vb + d];
                    }
                }
            }
        });
    }

    /** One row's measurements during a lab pass (see {@link LabProbe}); filled by {@link #run}. */
    static final class Probe {
        int row;                    // the chunk's row measured, set before the pass
        final float[][] residuals;  // [layers][hidden], after each layer
        final float[][] entropy;    // [layers][heads]
        final float[][] sink;       // [layers][heads]
        float[][] layerLogits;      // [layers][vocab]

        Probe(int layers, int heads) {
            this.residuals = new float[layers][];
            this.entropy = new float[layers][heads];
            this.sink = new float[layers][heads];
        }

        /** @param weights unnormalised softmax numerators of positions 0..len-1; times {@code inv} they sum to 1 */
        void attention(int layer, int head, float[] weights, int len, float inv) {
            double h = 0;
            for (int p = 0; p < len; p++) {
                double a = weights[p] * inv;
                if (a > 0) h -= a * Math.log(a);
            }
            entropy[layer][head] = (float) h;
            sink[layer][head] = weights[0] * inv;
        }

        LabProbe result() {
            return new LabProbe(layerLogits, entropy, sink);
        }
    }

    private void rmsNorm(float[][] in, int n, float[] weight, float[][] out) {
        float eps = (float) c.rmsNormEps();
        for (int t = 0; t < n; t++) {
            float[] a = in[t];
            double ss = 0;
            for (float f : a) ss += (double) f * f;
            float variance = (float) (ss / a.length);
            float r = (float) (1.0 / Math.sqrt(variance + eps));
            float[] o = out[t];
            for (int i = 0; i < a.length; i++) o[i] = weight[i] * (a[i] * r);
        }
    }

    private static void addBias(float[] a, float[] bias) {
        for (int i = 0; i < a.length; i++) a[i] += bias[i];
    }

    private static void addInto(float[][] x, float[][] d, int n) {
        for (int t = 0; t < n; t++) {
            float[] a = x[t];
            float[] b = d[t];
            for (int i = 0; i < a.length; i++) a[i] += b[i];
        }
    }
}

package qwenchat.engine.cuda;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.sampling.Sampler;
import qwenchat.engine.sampling.SamplingParams;

/**
 * Token choice for {@link CudaEngine#step}: the logits never leave the GPU whole. Kernels of
 * sampling.cu reduce each row to its argmax or top-k survivors, and only those cross to the host,
 * where the CPU {@link Sampler} finishes, so both engines pick the same tokens for the same seed.
 * Runs on the engine's CUDA thread, after a forward pass left rows 0..n-1 of ws.logits filled.
 */
final class DeviceSampling implements AutoCloseable {
    /** Pinned bytes for one pick's results: ids and log-probabilities [MAX_ROWS][MAX_TOPK], lse [MAX_ROWS]. */
    static final long RESULT_BYTES = 4L * CudaKernels.MAX_ROWS * (2L * CudaKernels.MAX_TOPK + 1);

    private final CudaContext ctx;
    private final CudaKernels kernels;
    private final Workspace ws;
    private final SequenceTable seqs;
    private final int vocab;
    private final PinnedBuffer results;
    private final int resultsAt = 0;
    /**
     * Allowed-id bitsets of a pass's masked rows, then their row indices: [rows][words] + [rows]
     * ints. Allocated on the first constrained request (most servers never see one), kept after.
     */
    private DeviceBuffer masks;

    DeviceSampling(CudaContext ctx, CudaKernels kernels, Workspace ws, SequenceTable seqs, int vocab) {
        this.ctx = ctx;
        this.kernels = kernels;
        this.ws = ws;
        this.seqs = seqs;
        this.vocab = vocab;
        this.results = PinnedBuffer.allocate(RESULT_BYTES);
    }

    /**
     * Picks each row's token from ws.logits rows 0..n-1. On the GPU: log-softmax and the top
     * log-probabilities of the raw logits; for rows with penalties or temperature, the Sampler's
     * penalties, temperature and top-k (bit-identical float32 operations) into ws.proc and either the
     * argmax (greedy) or the top-k survivors. Only those survivors cross to the host, where the
     * CPU {@link Sampler} finishes top-p, min-p and the counter-based draw, so CUDA and CPU engines
     * sample the same tokens for the same seed.
     */
    SampledToken[] pick(List<StepRequest> rows) {
        int n = rows.size();
        int v = vocab;
        int k = 1;
        int[] mode = new int[n];
        boolean anyProcessed = false;
        for (int i = 0; i < n; i++) {
            StepRequest r = rows.get(i);
            k = Math.max(k, r.topLogprobs());
            SamplingParams p = r.sampling();
            boolean penalties = p.repetitionPenalty() != 1 || p.presencePenalty() != 0 || p.frequencyPenalty() != 0;
            mode[i] = !p.greedy() ? 2 : penalties ? 1 : 0;
            anyProcessed |= mode[i] != 0;
        }
        mask(rows);
        if (k == 1) {
            kernels.logitsArgmax(ws.logits.ptr(), n, v, ws.argmaxPart.ptr(), ws.topIds.ptr(), ws.topLogprobs.ptr(), ws.lse.ptr());
        } else {
            kernels.logitsTopk(ws.logits.ptr(), n, v, k, ws.topIds.ptr(), ws.topLogprobs.ptr(), ws.lse.ptr());
        }
        int[] processedArgmax = anyProcessed ? prepareSampling(rows, mode) : null;
        Pointer p = results.pointer();
        long idsBytes = 4L * n * k;
        ws.topIds.copyToHostAsync(p.withByteOffset(resultsAt), 0, idsBytes, ctx.stream());
        ws.topLogprobs.copyToHostAsync(p.withByteOffset(resultsAt + idsBytes), 0, idsBytes, ctx.stream());
        long lseAt = resultsAt + 2 * idsBytes;
        ws.lse.copyToHostAsync(p.withByteOffset(lseAt), 0, 4L * n, ctx.stream());
        ctx.synchronize();
        ByteBuffer b = results.buffer();
        SampledToken[] out = new SampledToken[n];
        for (int i = 0; i < n; i++) {
            StepRequest r = rows.get(i);
            int want = r.topLogprobs();
            int[] ids = new int[want];
            float[] lps = new float[want];
            for (int j = 0; j < want; j++) {
                ids[j] = b.getInt((int) (resultsAt + 4L * (i * k + j)));
                lps[j] = b.getFloat((int) (resultsAt + idsBytes + 4L * (i * k + j)));
            }
            int token;
            float lp;
            if (mode[i] == 0) {
                token = b.getInt((int) (resultsAt + 4L * i * k));
                lp = b.getFloat((int) (resultsAt + idsBytes + 4L * i * k));
            } else {
                token = mode[i] == 1 ? processedArgmax[i] : drawOnHost(i, r);
                float[] raw = new float[1];
                ws.logits.copyToHost(Pointer.to(raw), 4L * ((long) i * v + token), 4);
                lp = raw[0] - b.getFloat((int) (lseAt + 4L * i));
            }
            out[i] = new SampledToken(r.sequence(), token, lp, ids, lps);
        }
        return out;
    }

    /**
     * Constrained decoding: ids outside a row's allowed set get -inf logits (token_mask.cu) before
     * anything reads the rows, so argmax, top-k, penalties and the reported log-probabilities all see
     * the masked distribution, as the CPU Sampler does. All masked rows of the pass go up in one copy
     * and one launch, however many rows the decode batch has; unmasked rows are untouched.
     */
    private void mask(List<StepRequest> rows) {
        int n = rows.size();
        int masked = 0;
        for (StepRequest r : rows) if (r.allowed() != null) masked++;
        if (masked == 0) return;
        int words = (vocab + 31) / 32;
        if (masks == null) masks = DeviceBuffer.allocate("token-masks", 4L * ws.rows * (words + 1));
        int[] host = new int[masked * (words + 1)];
        int rowsAt = masked * words;
        int j = 0;
        for (int i = 0; i < n; i++) {
            BitSet allowed = rows.get(i).allowed();
            if (allowed == null) continue;
            long[] longs = allowed.toLongArray();
            int base = j * words;
            // Ids past the vocabulary are ignored; words past the set's last long stay 0 (not allowed).
            for (int w = 0; w < words && (w >> 1) < longs.length; w++) {
                host[base + w] = (int) (longs[w >> 1] >>> (32 * (w & 1)));
            }
            host[rowsAt + j] = i;
            j++;
        }
        // Synchronous copy: the previous pick synchronised before returning, so no launch still reads the buffer.
        masks.copyFromHost(Pointer.to(host), 0, 4L * host.length);
        kernels.maskLogits(ws.logits.ptr(), vocab, masks.ptr(), words, masks.at(4L * rowsAt), masked);
    }

    /**
     * Penalties, temperature and top-k on the GPU for rows with mode 1 or 2 (see sampling.cu);
     * returns the argmax of the penalised logits for mode-1 rows.
     */
    private int[] prepareSampling(List<StepRequest> rows, int[] mode) {
        int n = rows.size();
        int v = vocab;
        int[] params = new int[5 * n + 1]; // mode[n], rep[n] (float bits), temp[n] (float bits), topK[n], off[n+1]
        List<int[]> entryIds = new ArrayList<>();
        List<float[]> entryDelta = new ArrayList<>();
        List<Boolean> entryRep = new ArrayList<>();
        int total = 0;
        for (int i = 0; i < n; i++) {
            StepRequest r = rows.get(i);
            SamplingParams p = r.sampling();
            params[i] = mode[i];
            params[n + i] = Float.floatToRawIntBits((float) p.repetitionPenalty());
            params[2 * n + i] = Float.floatToRawIntBits(p.greedy() ? 1f : (float) p.temperature());
            params[3 * n + i] = p.topK();
            params[4 * n + i] = total;
            boolean rep = p.repetitionPenalty() != 1;
            boolean presFreq = p.presencePenalty() != 0 || p.frequencyPenalty() != 0;
            if (mode[i] == 0 || !(rep || presFreq)) {
                entryIds.add(new int[0]);
                entryDelta.add(new float[0]);
                entryRep.add(false);
                continue;
            }
            int s = r.sequence();
            BitSet seen = new BitSet(v);
            for (int t : seqs.fedTokens(s)) seen.set(t);
            int[] counts = new int[v];
            for (int t : seqs.decodedTokens(s)) counts[t]++;
            int m = seen.cardinality();
            int[] ids = new int[m];
            float[] delta = new float[m];
            int j = 0;
            for (int id = seen.nextSetBit(0); id >= 0; id = seen.nextSetBit(id + 1)) {
                ids[j] = id;
                // The Sampler subtracts (float) (count * frequency + presence) from generated ids only.
                delta[j] = presFreq && counts[id] > 0 ? (float) (counts[id] * p.frequencyPenalty() + p.presencePenalty()) : 0f;
                j++;
            }
            entryIds.add(ids);
            entryDelta.add(delta);
            entryRep.add(rep);
            total += m;
        }
        params[5 * n] = total;
        ws.sampleParams.copyFromHost(Pointer.to(params), 0, 4L * params.length);
        if (total > 0) {
            int[] ids = new int[total];
            int[] flags = new int[total];
            float[] delta = new float[total];
            int at = 0;
            for (int i = 0; i < n; i++) {
                int m = entryIds.get(i).length;
                System.arraycopy(entryIds.get(i), 0, ids, at, m);
                System.arraycopy(entryDelta.get(i), 0, delta, at, m);
                if (entryRep.get(i)) Arrays.fill(flags, at, at + m, 1);
                at += m;
            }
            ws.penaltyIds.copyFromHost(Pointer.to(ids), 0, 4L * total);
            ws.penaltyFlags.copyFromHost(Pointer.to(flags), 0, 4L * total);
            ws.penaltyDelta.copyFromHost(Pointer.to(delta), 0, 4L * total);
        }
        CUdeviceptr base = ws.sampleParams.ptr();
        kernels.samplePrepare(ws.logits.ptr(), ws.proc.ptr(), n, v, base, base.withByteOffset(4L * n),
                base.withByteOffset(8L * n), base.withByteOffset(16L * n), ws.penaltyIds.ptr(), ws.penaltyFlags.ptr(),
                ws.penaltyDelta.ptr());
        int[] argmax = new int[n];
        boolean anyGreedy = false;
        for (int m : mode) anyGreedy |= m == 1;
        if (anyGreedy) {
            // Argmax of the penalised logits, through the candidate buffers (free until top-k below).
            kernels.logitsArgmax(ws.proc.ptr(), n, v, ws.argmaxPart.ptr(), ws.candCount.ptr(), ws.candVals.ptr(),
                    ws.candVals.ptr().withByteOffset(4L * n));
            ctx.synchronize();
            ws.candCount.copyToHost(Pointer.to(argmax), 0, 4L * n);
        }
        kernels.topkCandidates(ws.proc.ptr(), n, v, base, base.withByteOffset(12L * n), ws.candCount.ptr(),
                ws.candIds.ptr(), ws.candVals.ptr());
        return argmax;
    }

    /**
     * Top-p, min-p and the draw on the host over the GPU's top-k survivors, by the CPU Sampler's own
     * {@link Sampler#drawAmong}: only the survivors cross the bus and enter the arithmetic.
     */
    private int drawOnHost(int row, StepRequest r) {
        int[] count = new int[1];
        ws.candCount.copyToHost(Pointer.to(count), 4L * row, 4);
        SamplingParams p = r.sampling();
        // Penalties, temperature and top-k are applied already: the Sampler finishes with them neutral.
        SamplingParams rest = new SamplingParams(1, 0, p.topP(), p.minP(), 1, 0, 0, p.seed());
        if (count[0] < 0) {
            float[] l = new float[vocab];
            ws.proc.copyToHost(Pointer.to(l), 4L * row * vocab, 4L * vocab);
            return Sampler.pick(l, rest, seqs.history(r.sequence()));
        }
        int n = count[0];
        int[] ids = new int[n];
        float[] vals = new float[n];
        long at = (long) row * CudaKernels.MAX_CANDIDATES;
        if (n > 0) {
            ws.candIds.copyToHost(Pointer.to(ids), 4L * at, 4L * n);
            ws.candVals.copyToHost(Pointer.to(vals), 4L * at, 4L * n);
        }
        // The candidates come in top-k order; the Sampler walks ids in ascending order.
        Integer[] order = new Integer[n];
        for (int j = 0; j < n; j++) order[j] = j;
        Arrays.sort(order, (a, b) -> Integer.compare(ids[a], ids[b]));
        int[] sortedIds = new int[n];
        float[] sortedVals = new float[n];
        for (int j = 0; j < n; j++) {
            sortedIds[j] = ids[order[j]];
            sortedVals[j] = vals[order[j]];
        }
        return Sampler.drawAmong(sortedIds, sortedVals, rest, seqs.history(r.sequence()).generatedCount());
    }

    @Override
    public void close() {
        results.close();
        if (masks != null) masks.close();
    }
}

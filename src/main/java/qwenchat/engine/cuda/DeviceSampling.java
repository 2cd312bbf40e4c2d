package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUDA_MEMCPY2D;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUmemorytype;
import jcuda.driver.JCudaDriver;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.sampling.Sampler;
import qwenchat.engine.sampling.SamplingParams;

/**
 * Token choice for {@link CudaEngine#step}: the logits never leave the GPU whole. Kernels of
 * sampling.cu reduce each row to its argmax or top-k survivors, and only those cross to the host,
 * where the CPU {@link Sampler} finishes, so both engines pick the same tokens for the same seed.
 * Runs inside the engine's context call, after a forward pass left rows 0..n-1 of ws.logits filled.
 */
final class DeviceSampling implements AutoCloseable {
    /** Pinned bytes for one pick's results: ids and log-probabilities [MAX_ROWS][MAX_TOPK], lse [MAX_ROWS]. */
    static final long RESULT_BYTES = 4L * CudaKernels.MAX_ROWS * (2L * CudaKernels.MAX_TOPK + 1);
    /** In {@link #picks}: counts or penalised argmaxes [MAX_ROWS] at 0, raw logits of the picks [MAX_ROWS] here. */
    private static final int RAW_AT = 4 * CudaKernels.MAX_ROWS;
    /** In {@link #picks}: the survivors' ids [n][width], then their logits [n][width]. */
    private static final int CANDIDATES_AT = 8 * CudaKernels.MAX_ROWS;

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
    /** Staging for the penalty parameters and entries of a pass; grows with the entries, never shrinks. */
    private PinnedBuffer uploads;
    /** A pass's per-row counts or penalised argmax [MAX_ROWS], raw logits of the picks [MAX_ROWS], survivors. */
    private PinnedBuffer picks;
    // Packed penalty entries of a pass, reused from step to step: [entries]
    private int[] entryIds = new int[0];
    private int[] entryFlags = new int[0];
    private float[] entryDelta = new float[0];

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
     *
     * <p>The host waits on the stream once for all of that (every copy is queued behind the kernels
     * into pinned memory), and once more, only when some row was penalised or sampled, for the raw
     * logits of the picked ids (their log-probabilities); never once per row.
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
        int width = anyProcessed ? prepareSampling(rows, mode) : 0;
        Pointer p = results.pointer();
        long idsBytes = 4L * n * k;
        ws.topIds.copyToHostAsync(p.withByteOffset(resultsAt), 0, idsBytes, ctx.stream());
        ws.topLogprobs.copyToHostAsync(p.withByteOffset(resultsAt + idsBytes), 0, idsBytes, ctx.stream());
        long lseAt = resultsAt + 2 * idsBytes;
        ws.lse.copyToHostAsync(p.withByteOffset(lseAt), 0, 4L * n, ctx.stream());
        ctx.synchronize();
        ByteBuffer b = results.buffer();
        ByteBuffer c = anyProcessed ? picks.buffer() : null;
        int[] tokens = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = switch (mode[i]) {
                case 0 -> b.getInt((int) (resultsAt + 4L * i * k));
                case 1 -> c.getInt(4 * i); // the penalised argmax
                default -> drawOnHost(i, rows.get(i), c, n, width);
            };
        }
        if (anyProcessed) {
            // The picked ids' raw logits, for their log-probabilities: queued copies, one wait.
            Pointer raw = picks.pointer().withByteOffset(RAW_AT);
            for (int i = 0; i < n; i++) {
                if (mode[i] != 0) ws.logits.copyToHostAsync(raw.withByteOffset(4L * i), 4L * ((long) i * v + tokens[i]), 4, ctx.stream());
            }
            ctx.synchronize();
        }
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
            float lp = mode[i] == 0
                    ? b.getFloat((int) (resultsAt + idsBytes + 4L * i * k))
                    : c.getFloat(RAW_AT + 4 * i) - b.getFloat((int) (lseAt + 4L * i));
            out[i] = new SampledToken(r.sequence(), tokens[i], lp, ids, lps);
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
     * Penalties, temperature and top-k on the GPU for rows with mode 1 or 2 (see sampling.cu), with
     * their results queued for the host into {@link #picks}: per row, at int {@code i}, the argmax
     * of the penalised logits (mode 1) or the survivor count (mode 2, -1 for the whole row), and the
     * first {@code width} survivors of every row. The penalty entries come from each sequence's
     * {@link PenaltyState} and go up with the parameters in one staging area, by queued copies.
     *
     * @return the survivors per row copied to the host; 0 when no row samples from survivors
     */
    private int prepareSampling(List<StepRequest> rows, int[] mode) {
        int n = rows.size();
        int v = vocab;
        int paramInts = 5 * n + 1; // mode[n], rep[n] (float bits), temp[n] (float bits), topK[n], off[n+1]
        int[] params = new int[paramInts];
        int total = 0;
        for (int i = 0; i < n; i++) {
            SamplingParams p = rows.get(i).sampling();
            boolean penalised = p.repetitionPenalty() != 1 || p.presencePenalty() != 0 || p.frequencyPenalty() != 0;
            if (mode[i] != 0 && penalised) total += seqs.penalties(rows.get(i).sequence()).size();
        }
        if (entryIds.length < total) {
            int cap = Math.max(total, 2 * entryIds.length);
            entryIds = new int[cap];
            entryFlags = new int[cap];
            entryDelta = new float[cap];
        }
        int at = 0;
        int width = 0;
        for (int i = 0; i < n; i++) {
            StepRequest r = rows.get(i);
            SamplingParams p = r.sampling();
            params[i] = mode[i];
            params[n + i] = Float.floatToRawIntBits((float) p.repetitionPenalty());
            params[2 * n + i] = Float.floatToRawIntBits(p.greedy() ? 1f : (float) p.temperature());
            params[3 * n + i] = p.topK();
            params[4 * n + i] = at;
            if (mode[i] == 2 && p.topK() > 0 && p.topK() < v) width = Math.max(width, p.topK());
            boolean rep = p.repetitionPenalty() != 1;
            boolean presFreq = p.presencePenalty() != 0 || p.frequencyPenalty() != 0;
            if (mode[i] == 0 || !(rep || presFreq)) continue;
            PenaltyState pen = seqs.penalties(r.sequence());
            pen.write(entryIds, entryFlags, entryDelta, at, rep, presFreq, p.frequencyPenalty(), p.presencePenalty());
            at += pen.size();
        }
        params[5 * n] = total;
        // Ties at the k-th value survive too; room for a few dozen, and the rare row with more reads its own.
        if (width > 0) width = Math.min(CudaKernels.MAX_CANDIDATES, width + 64);

        uploads = atLeast(uploads, 4L * (paramInts + 3L * total));
        ByteBuffer u = uploads.buffer();
        u.asIntBuffer().put(params).put(entryIds, 0, total).put(entryFlags, 0, total);
        u.position(4 * (paramInts + 2 * total));
        u.asFloatBuffer().put(entryDelta, 0, total);
        // Queued behind the forward pass: the previous pick waited for the stream before returning,
        // so no copy of the last step still reads the staging area.
        Pointer up = uploads.pointer();
        ws.sampleParams.copyFromHostAsync(up, 0, 4L * paramInts, ctx.stream());
        if (total > 0) {
            ws.penaltyIds.copyFromHostAsync(up.withByteOffset(4L * paramInts), 0, 4L * total, ctx.stream());
            ws.penaltyFlags.copyFromHostAsync(up.withByteOffset(4L * (paramInts + total)), 0, 4L * total, ctx.stream());
            ws.penaltyDelta.copyFromHostAsync(up.withByteOffset(4L * (paramInts + 2L * total)), 0, 4L * total, ctx.stream());
        }
        CUdeviceptr base = ws.sampleParams.ptr();
        kernels.samplePrepare(ws.logits.ptr(), ws.proc.ptr(), n, v, base, base.withByteOffset(4L * n),
                base.withByteOffset(8L * n), base.withByteOffset(16L * n), ws.penaltyIds.ptr(), ws.penaltyFlags.ptr(),
                ws.penaltyDelta.ptr());
        boolean anyGreedy = false;
        for (int m : mode) anyGreedy |= m == 1;
        if (anyGreedy) {
            // Argmax of the penalised logits into candCount, which top-k below leaves alone for
            // mode-1 rows (it writes counts of mode-2 rows only); candVals is scratch until then.
            kernels.logitsArgmax(ws.proc.ptr(), n, v, ws.argmaxPart.ptr(), ws.candCount.ptr(), ws.candVals.ptr(),
                    ws.candVals.ptr().withByteOffset(4L * n));
        }
        kernels.topkCandidates(ws.proc.ptr(), n, v, base, base.withByteOffset(12L * n), ws.candCount.ptr(),
                ws.candIds.ptr(), ws.candVals.ptr());
        picks = atLeast(picks, CANDIDATES_AT + 8L * n * width);
        Pointer h = picks.pointer();
        ws.candCount.copyToHostAsync(h, 0, 4L * n, ctx.stream());
        if (width > 0) {
            rowsToHost(ws.candIds, h.withByteOffset(CANDIDATES_AT), n, width);
            rowsToHost(ws.candVals, h.withByteOffset(CANDIDATES_AT + 4L * n * width), n, width);
        }
        return width;
    }

    /** The first {@code width} entries of each of the first {@code n} [MAX_CANDIDATES] rows, packed, by one queued copy. */
    private void rowsToHost(DeviceBuffer rows, Pointer dst, int n, int width) {
        CUDA_MEMCPY2D copy = new CUDA_MEMCPY2D();
        copy.srcMemoryType = CUmemorytype.CU_MEMORYTYPE_DEVICE;
        copy.srcDevice = rows.ptr();
        copy.srcPitch = 4L * CudaKernels.MAX_CANDIDATES;
        copy.dstMemoryType = CUmemorytype.CU_MEMORYTYPE_HOST;
        copy.dstHost = dst;
        copy.dstPitch = 4L * width;
        copy.WidthInBytes = 4L * width;
        copy.Height = n;
        check(JCudaDriver.cuMemcpy2DAsync(copy, ctx.stream()), "cuMemcpy2DAsync(" + n + " rows of " + width + " candidates)");
    }

    /** {@code buffer} if it holds {@code bytes}, else a larger one (the old one is idle: each pick waits for its copies). */
    private static PinnedBuffer atLeast(PinnedBuffer buffer, long bytes) {
        if (buffer != null && buffer.bytes() >= bytes) return buffer;
        long size = Math.max(bytes, buffer == null ? 64 * 1024 : 2 * buffer.bytes());
        if (buffer != null) buffer.close();
        return PinnedBuffer.allocate(size);
    }

    /**
     * Top-p, min-p and the draw on the host over the GPU's top-k survivors, by the CPU Sampler's own
     * {@link Sampler#drawAmong}: only the survivors cross the bus and enter the arithmetic. They
     * are in {@code picks} already unless the row had more than {@code width} (ties) or no top-k.
     */
    private int drawOnHost(int row, StepRequest r, ByteBuffer picked, int n, int width) {
        int count = picked.getInt(4 * row);
        SamplingParams p = r.sampling();
        // Penalties, temperature and top-k are applied already: the Sampler finishes with them neutral.
        SamplingParams rest = new SamplingParams(1, 0, p.topP(), p.minP(), 1, 0, 0, p.seed());
        if (count < 0) {
            float[] l = new float[vocab];
            ws.proc.copyToHost(Pointer.to(l), 4L * row * vocab, 4L * vocab);
            return Sampler.pick(l, rest, seqs.history(r.sequence()));
        }
        int[] ids = new int[count];
        float[] vals = new float[count];
        long at = (long) row * CudaKernels.MAX_CANDIDATES;
        if (count > width) {
            ws.candIds.copyToHost(Pointer.to(ids), 4L * at, 4L * count);
            ws.candVals.copyToHost(Pointer.to(vals), 4L * at, 4L * count);
        } else {
            int idsAt = CANDIDATES_AT + 4 * row * width;
            int valsAt = CANDIDATES_AT + 4 * n * width + 4 * row * width;
            for (int j = 0; j < count; j++) {
                ids[j] = picked.getInt(idsAt + 4 * j);
                vals[j] = picked.getFloat(valsAt + 4 * j);
            }
        }
        // The candidates come in no particular order; the Sampler walks ids in ascending order.
        Integer[] order = new Integer[count];
        for (int j = 0; j < count; j++) order[j] = j;
        Arrays.sort(order, (a, b) -> Integer.compare(ids[a], ids[b]));
        int[] sortedIds = new int[count];
        float[] sortedVals = new float[count];
        for (int j = 0; j < count; j++) {
            sortedIds[j] = ids[order[j]];
            sortedVals[j] = vals[order[j]];
        }
        return Sampler.drawAmong(sortedIds, sortedVals, rest, seqs.history(r.sequence()).generatedCount());
    }

    @Override
    public void close() {
        results.close();
        if (uploads != null) uploads.close();
        if (picks != null) picks.close();
        if (masks != null) masks.close();
    }
}

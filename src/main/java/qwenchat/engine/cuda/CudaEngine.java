package qwenchat.engine.cuda;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import qwenchat.engine.EngineException;
import qwenchat.engine.EngineInfo;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvBlockUsage;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.cpu.Rope;
import qwenchat.engine.sampling.Sampler;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;

/**
 * Qwen2 inference on one NVIDIA GPU through our own kernels. All device work runs on the
 * {@link CudaContext}'s worker thread; the public methods block on it. Prefill runs in chunks of
 * up to {@link CudaKernels#MAX_ROWS} rows through the same kernels as decode (causal attention
 * falls out of each row attending to its own position); decode batches replay CUDA graphs.
 */
public final class CudaEngine implements InferenceEngine {

    /**
     * @param graphs replay captured CUDA graphs for decode steps (off only for debugging)
     * @param gemm use the tensor-core GEMMs for prefill chunks and large decode batches (off: every
     *     pass goes through the GEMV kernels, as a cross-check)
     * @param alignedChunks cut prefills into whole 128-row tiles plus a <= 64-row tail (see
     *     {@link #chunkLength}); off only to measure what the unaligned cut does
     * @param skinny send passes of 16-64 rows (wide decode batches, short prefill tails) through
     *     {@link SkinnyGemm} instead of the prefill GEMM; only with {@code gemm}
     */
    public record Options(int device, boolean graphs, boolean gemm, boolean alignedChunks, boolean skinny) {
        /** Whether {@link #defaults()} routes 16-64-row passes through {@link SkinnyGemm}. */
        public static final boolean SKINNY_DEFAULT = true;

        public Options(int device, boolean graphs) {
            this(device, graphs, true, true, SKINNY_DEFAULT);
        }

        public Options(int device, boolean graphs, boolean gemm) {
            this(device, graphs, gemm, true, SKINNY_DEFAULT);
        }

        public Options(int device, boolean graphs, boolean gemm, boolean alignedChunks) {
            this(device, graphs, gemm, alignedChunks, SKINNY_DEFAULT);
        }

        public static Options defaults() {
            return new Options(0, true, true, true, SKINNY_DEFAULT);
        }
    }

    /** Device memory kept free beyond what we allocate: context, module, graphs, fragmentation. */
    static final long RESERVE_BYTES = 512L << 20;

    private final ModelConfig config;
    private final KvCacheCapacity capacity;
    private final Options options;
    private final CudaContext ctx;
    private KernelModule module;
    private DeviceWeights weights;
    private DeviceKvCache kv;
    private Workspace ws;
    private ForwardPass forward;
    private CudaKernels kernels;
    private PinnedBuffer io;
    private final SequenceTable seqs;
    private EngineInfo info;

    private CudaEngine(ModelConfig config, KvCacheCapacity capacity, Options options, CudaContext ctx) {
        this.config = config;
        this.capacity = slotView(capacity);
        this.options = options;
        this.ctx = ctx;
        this.seqs = new SequenceTable(this.capacity.maxSequences(), this.capacity.maxTokensPerSequence());
    }

    public static CudaEngine load(ModelConfig config, Checkpoint checkpoint, KvCacheCapacity capacity,
                                  LoadProgressListener listener) {
        return load(config, checkpoint, capacity, listener, Options.defaults());
    }

    public static CudaEngine load(ModelConfig config, Checkpoint checkpoint, KvCacheCapacity capacity,
                                  LoadProgressListener listener, Options options) {
        checkShapes(config, capacity);
        checkpoint.validateAgainst(config);
        CudaContext ctx = CudaContext.create(options.device());
        CudaEngine e = new CudaEngine(config, capacity, options, ctx);
        try {
            ctx.run(() -> e.init(checkpoint, listener));
        } catch (RuntimeException | Error err) {
            try {
                e.close();
            } catch (RuntimeException suppressed) {
                err.addSuppressed(suppressed);
            }
            throw err;
        }
        return e;
    }

    /**
     * Until the kernels read KV through block tables, each contiguous slot stands for one block of
     * {@code maxTokensPerSequence} tokens, and the pool's memory buys as many slots as it covers,
     * so the scheduler's admission and preemption work unchanged on top.
     */
    static KvCacheCapacity slotView(KvCacheCapacity pool) {
        int perSlot = pool.maxTokensPerSequence();
        long slots = Math.max(1, Math.min(pool.maxSequences(), pool.totalTokens() / perSlot));
        return new KvCacheCapacity((int) slots, perSlot, perSlot, (int) slots);
    }

    /** What the kernels require of the shapes; every Qwen2.5 size meets it. */
    static void checkShapes(ModelConfig c, KvCacheCapacity cap) {
        List<String> bad = new ArrayList<>();
        if (c.hiddenSize() % 8 != 0) bad.add("hidden_size " + c.hiddenSize() + " is not a multiple of 8");
        if (c.intermediateSize() % 8 != 0) bad.add("intermediate_size " + c.intermediateSize() + " is not a multiple of 8");
        if (c.headDim() != 64 && c.headDim() != 128) bad.add("head_dim " + c.headDim() + " is not 64 or 128");
        if (c.numAttentionHeads() % c.numKeyValueHeads() != 0) {
            bad.add("num_attention_heads " + c.numAttentionHeads() + " is not a multiple of num_key_value_heads "
                    + c.numKeyValueHeads());
        } else if (c.groupSize() > CudaKernels.ATTN_MAX_GROUP) {
            bad.add("query heads per KV head " + c.groupSize() + " exceeds " + CudaKernels.ATTN_MAX_GROUP);
        }
        if (cap.maxTokensPerSequence() > c.contextLength()) {
            bad.add("maxTokensPerSequence " + cap.maxTokensPerSequence() + " exceeds the model's context length "
                    + c.contextLength());
        }
        if (!bad.isEmpty()) throw new EngineException("the CUDA engine cannot run this model: " + String.join("; ", bad));
    }

    private void init(Checkpoint checkpoint, LoadProgressListener listener) {
        module = KernelModule.load();
        long weightBytes = DeviceWeights.deviceBytes(config);
        long kvBytes = DeviceKvCache.totalBytes(config, capacity);
        boolean gemmChunks = ForwardPass.gemmFits(config) && options.gemm();
        long wsBytes = Workspace.bytes(config, capacity.maxTokensPerSequence(), gemmChunks);
        long staging = 2L * WeightUploader.STAGE_BYTES;
        long[] mem = ctx.memoryInfo();
        long need = weightBytes + kvBytes + wsBytes + RESERVE_BYTES;
        if (need > mem[0]) {
            throw new EngineException(String.format(
                    "not enough device memory on %s: need %.2f GiB (weights %.2f GiB + KV cache %.2f GiB for %d sequences x %d"
                            + " tokens + workspace %.2f GiB + reserve %.2f GiB) but only %.2f GiB of %.2f GiB is free;"
                            + " lower maxSequences or maxTokensPerSequence",
                    ctx.deviceName(), gib(need), gib(weightBytes), gib(kvBytes), capacity.maxSequences(),
                    capacity.maxTokensPerSequence(), gib(wsBytes), gib(RESERVE_BYTES), gib(mem[0]), gib(mem[1])));
        }
        long fileBytes = 0;
        for (String n : DeviceWeights.tensorNames(config)) fileBytes += checkpoint.info(n).byteLength();
        try (WeightUploader up = new WeightUploader(ctx.stream(), listener, fileBytes)) {
            weights = DeviceWeights.upload(config, checkpoint, up);
        }
        kv = new DeviceKvCache(config, capacity);
        ws = new Workspace(config, capacity.maxTokensPerSequence(), gemmChunks);
        // The CPU engine's table, so both engines rotate by the very same float32 frequencies.
        Rope rope = Rope.of(config);
        ws.invFreq.copyFromHost(rope.invFreq());
        kernels = new CudaKernels(module, ctx.stream());
        PrefillGemm gemm = gemmChunks
                ? new PrefillGemm(module, ctx.stream(), ctx.computeCapability()) : null;
        SkinnyGemm skinny = gemmChunks && options.skinny() ? new SkinnyGemm(module, ctx.stream(), ctx.multiprocessors()) : null;
        forward = new ForwardPass(config, weights, kv, ws, kernels, gemm, skinny, new PrefillAttention(module, ctx.stream()),
                ctx.stream(), capacity.maxTokensPerSequence(), rope.attentionScaling());
        ioResults = 16L * ws.chunk;
        resultsAt = (int) ioResults;
        io = PinnedBuffer.allocate(ioResults + 64L * 1024);
        info = new EngineInfo("cuda", ctx.deviceName(), ctx.computeCapability(), ctx.driverVersion(), weights.bytes(),
                kvBytes, ws.totalBytes() + staging, ctx.totalMemory());
        ctx.synchronize();
    }

    private static double gib(long b) {
        return b / (double) (1L << 30);
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public EngineInfo info() {
        return info;
    }

    @Override
    public KvCacheCapacity capacity() {
        return capacity;
    }

    @Override
    public KvBlockUsage kvUsage() {
        return new KvBlockUsage(capacity.totalBlocks(), capacity.totalBlocks() - seqs.openCount(), capacity.blockSize());
    }

    @Override
    public int openSequence() {
        return seqs.open();
    }

    @Override
    public void freeSequence(int sequence) {
        seqs.free(sequence);
    }

    @Override
    public int sequenceLength(int sequence) {
        return seqs.length(sequence);
    }

    @Override
    public int openSequenceCount() {
        return seqs.openCount();
    }

    // ---- forward passes (worker thread) ----

    // Pinned staging layout: tokens, slots, positions and logit rows ([chunk] ints each), then results.
    private long ioResults;
    private int resultsAt;

    /** Copies the rows' inputs to the workspace (async, on the stream); returns the longest attended length. */
    private int stage(int n, int[] tokens, int[] slots, int[] pos, int[] logitRows, int nLogit) {
        ByteBuffer b = io.buffer();
        int c = ws.chunk;
        int maxLen = 0;
        for (int i = 0; i < n; i++) {
            b.putInt(4 * i, tokens[i]);
            b.putInt(4 * (c + i), slots[i]);
            b.putInt(4 * (2 * c + i), pos[i]);
            maxLen = Math.max(maxLen, pos[i] + 1);
        }
        for (int i = 0; i < nLogit; i++) b.putInt(4 * (3 * c + i), logitRows[i]);
        Pointer p = io.pointer();
        ws.tokens.copyFromHostAsync(p, 0, 4L * n, ctx.stream());
        ws.slots.copyFromHostAsync(p.withByteOffset(4L * c), 0, 4L * n, ctx.stream());
        ws.positions.copyFromHostAsync(p.withByteOffset(8L * c), 0, 4L * n, ctx.stream());
        if (nLogit > 0) ws.logitRows.copyFromHostAsync(p.withByteOffset(12L * c), 0, 4L * nLogit, ctx.stream());
        return maxLen;
    }

    private void checkTokens(int[] tokens) {
        for (int t : tokens) {
            if (t < 0 || t >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + t + " outside the vocabulary 0.." + (config.vocabSize() - 1));
            }
        }
    }

    private float[][] readLogits(int rows) {
        int v = config.vocabSize();
        float[][] out = new float[rows][v];
        ctx.synchronize();
        for (int r = 0; r < rows; r++) ws.logits.copyToHost(Pointer.to(out[r]), 4L * r * v, 4L * v);
        return out;
    }

    /**
     * Rows of the next prefill chunk: whole 128-row GEMM tiles while at least 128 remain, then at
     * most 64 rows (which PrefillGemm serves with its narrow kernel), then the rest, so the
     * warp-specialized GEMM never runs a partial tile. On the 7B parity run aligned and unaligned
     * cuts gave identical logits (rows are independent in every kernel), so this is a tiling
     * preference, not a correctness need.
     */
    static int chunkLength(int remaining, int max) {
        if (max <= 64 || remaining <= 64) return Math.min(remaining, max);
        if (remaining >= 128) return Math.min(max, remaining - remaining % 128);
        return 64;
    }

    /**
     * Runs a prefill in chunks of up to ws.chunk rows; logits of the wanted rows are computed 64 at a time
     * and fetched into {@code sink}; without a sink the last row's logits stay in ws.logits row 0.
     */
    private void prefillChunks(int seq, int[] tokens, boolean allPositions, List<float[]> sink) {
        int max = ws.chunk;
        int[] slots = new int[max];
        int[] pos = new int[max];
        int[] logitRows = new int[max];
        for (int from = 0, n; from < tokens.length; from += n) {
            n = options.alignedChunks() ? chunkLength(tokens.length - from, max) : Math.min(max, tokens.length - from);
            int start = seqs.length(seq);
            Arrays.fill(slots, 0, n, seq);
            for (int i = 0; i < n; i++) pos[i] = start + i;
            boolean last = from + n == tokens.length;
            int nLogit = 0;
            if (allPositions) {
                for (int i = 0; i < n; i++) logitRows[nLogit++] = i;
            } else if (last) {
                logitRows[nLogit++] = n - 1;
            }
            stage(n, Arrays.copyOfRange(tokens, from, from + n), slots, pos, logitRows, nLogit);
            forward.currentSlot = seq;
            forward.prefill(n, start);
            seqs.append(seq, tokens, from, n, false);
            for (int g = 0; g < nLogit; g += CudaKernels.MAX_ROWS) {
                int cnt = Math.min(CudaKernels.MAX_ROWS, nLogit - g);
                forward.logits(g, cnt);
                if (sink != null) sink.addAll(Arrays.asList(readLogits(cnt)));
            }
        }
    }

    @Override
    public float[][] prefillLogits(int sequence, int[] tokens, boolean allPositions) {
        if (tokens.length == 0) throw new IllegalArgumentException("prefill needs at least one token");
        checkTokens(tokens);
        seqs.requireRoom(sequence, tokens.length);
        return ctx.call(() -> {
            List<float[]> out = new ArrayList<>();
            prefillChunks(sequence, tokens, allPositions, out);
            return out.toArray(new float[0][]);
        });
    }

    @Override
    public float[][] decodeLogits(int[] sequences, int[] tokens) {
        checkDecode(sequences, tokens);
        return ctx.call(() -> {
            float[][] out = new float[sequences.length][];
            for (int from = 0; from < sequences.length; from += CudaKernels.MAX_ROWS) {
                int n = Math.min(CudaKernels.MAX_ROWS, sequences.length - from);
                decodeBatch(sequences, tokens, from, n);
                float[][] part = readLogits(n);
                System.arraycopy(part, 0, out, from, n);
            }
            return out;
        });
    }

    private void checkDecode(int[] sequences, int[] tokens) {
        if (sequences.length != tokens.length) {
            throw new IllegalArgumentException(sequences.length + " sequences but " + tokens.length + " tokens");
        }
        checkTokens(tokens);
        boolean[] seen = new boolean[capacity.maxSequences()];
        for (int s : sequences) {
            seqs.requireRoom(s, 1);
            if (seen[s]) throw new IllegalArgumentException("sequence " + s + " appears twice in one decode step");
            seen[s] = true;
        }
    }

    /** One graph-replayed decode pass over sequences[from..from+n); logits for every row. */
    private void decodeBatch(int[] sequences, int[] tokens, int from, int n) {
        int[] tok = new int[n];
        int[] slots = new int[n];
        int[] pos = new int[n];
        int[] logitRows = new int[n];
        for (int i = 0; i < n; i++) {
            int s = sequences[from + i];
            tok[i] = tokens[from + i];
            slots[i] = s;
            pos[i] = seqs.length(s);
            logitRows[i] = i;
        }
        int maxLen = stage(n, tok, slots, pos, logitRows, n);
        forward.decode(n, n, maxLen, options.graphs() && KernelTimer.active == null);
        for (int i = 0; i < n; i++) seqs.append(sequences[from + i], tokens, from + i, 1, true);
    }

    // ---- step: sampling on the GPU ----

    @Override
    public List<SampledToken> step(List<StepRequest> requests) {
        List<Integer> decodes = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) {
            StepRequest r = requests.get(i);
            checkTokens(r.tokens());
            if (r.prefill()) seqs.requireRoom(r.sequence(), r.tokens().length);
            else decodes.add(i);
        }
        int[] dseqs = new int[decodes.size()];
        int[] dtoks = new int[decodes.size()];
        for (int j = 0; j < dseqs.length; j++) {
            dseqs[j] = requests.get(decodes.get(j)).sequence();
            dtoks[j] = requests.get(decodes.get(j)).tokens()[0];
        }
        checkDecode(dseqs, dtoks);
        return ctx.call(() -> {
            SampledToken[] out = new SampledToken[requests.size()];
            for (int i = 0; i < requests.size(); i++) {
                StepRequest r = requests.get(i);
                if (!r.prefill()) continue;
                prefillChunks(r.sequence(), r.tokens(), false, null);
                if (r.generatedTail() > 0) seqs.markGenerated(r.sequence(), r.generatedTail());
                SampledToken[] one = pick(List.of(r));
                out[i] = one[0];
            }
            for (int from = 0; from < dseqs.length; from += CudaKernels.MAX_ROWS) {
                int n = Math.min(CudaKernels.MAX_ROWS, dseqs.length - from);
                decodeBatch(dseqs, dtoks, from, n);
                List<StepRequest> batch = new ArrayList<>();
                for (int j = 0; j < n; j++) batch.add(requests.get(decodes.get(from + j)));
                SampledToken[] picked = pick(batch);
                for (int j = 0; j < n; j++) out[decodes.get(from + j)] = picked[j];
            }
            return List.of(out);
        });
    }

    /**
     * Picks each row's token from ws.logits rows 0..n-1. On the GPU: log-softmax and the top
     * log-probabilities of the raw logits; for rows with penalties or temperature, the Sampler's
     * penalties, temperature and top-k (bit-identical float32 operations) into ws.proc and either the
     * argmax (greedy) or the top-k survivors. Only those survivors cross to the host, where the
     * CPU {@link Sampler} finishes top-p, min-p and the counter-based draw, so CUDA and CPU engines
     * sample the same tokens for the same seed.
     */
    private SampledToken[] pick(List<StepRequest> rows) {
        int n = rows.size();
        int v = config.vocabSize();
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
        if (k == 1) {
            kernels.logitsArgmax(ws.logits.ptr(), n, v, ws.argmaxPart.ptr(), ws.topIds.ptr(), ws.topLogprobs.ptr(), ws.lse.ptr());
        } else {
            kernels.logitsTopk(ws.logits.ptr(), n, v, k, ws.topIds.ptr(), ws.topLogprobs.ptr(), ws.lse.ptr());
        }
        int[] processedArgmax = anyProcessed ? prepareSampling(rows, mode) : null;
        Pointer p = io.pointer();
        long idsBytes = 4L * n * k;
        ws.topIds.copyToHostAsync(p.withByteOffset(resultsAt), 0, idsBytes, ctx.stream());
        ws.topLogprobs.copyToHostAsync(p.withByteOffset(resultsAt + idsBytes), 0, idsBytes, ctx.stream());
        long lseAt = resultsAt + 2 * idsBytes;
        ws.lse.copyToHostAsync(p.withByteOffset(lseAt), 0, 4L * n, ctx.stream());
        ctx.synchronize();
        ByteBuffer b = io.buffer();
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
     * Penalties, temperature and top-k on the GPU for rows with mode 1 or 2 (see sampling.cu);
     * returns the argmax of the penalised logits for mode-1 rows.
     */
    private int[] prepareSampling(List<StepRequest> rows, int[] mode) {
        int n = rows.size();
        int v = config.vocabSize();
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

    /** Top-p, min-p and the draw on the host over the GPU's top-k survivors, by the CPU Sampler itself. */
    private int drawOnHost(int row, StepRequest r) {
        int v = config.vocabSize();
        float[] l = new float[v];
        int[] count = new int[1];
        ws.candCount.copyToHost(Pointer.to(count), 4L * row, 4);
        if (count[0] < 0) {
            ws.proc.copyToHost(Pointer.to(l), 4L * row * v, 4L * v);
        } else {
            Arrays.fill(l, Float.NEGATIVE_INFINITY);
            int[] ids = new int[count[0]];
            float[] vals = new float[count[0]];
            long at = (long) row * CudaKernels.MAX_CANDIDATES;
            if (ids.length > 0) {
                ws.candIds.copyToHost(Pointer.to(ids), 4L * at, 4L * ids.length);
                ws.candVals.copyToHost(Pointer.to(vals), 4L * at, 4L * vals.length);
            }
            for (int j = 0; j < ids.length; j++) l[ids[j]] = vals[j];
        }
        SamplingParams p = r.sampling();
        // Penalties, temperature and top-k are applied already: the Sampler finishes with them neutral.
        SamplingParams rest = new SamplingParams(1, 0, p.topP(), p.minP(), 1, 0, 0, p.seed());
        return Sampler.pick(l, rest, seqs.history(r.sequence()));
    }

    /**
     * Runs one {@link #step} eagerly with every kernel timed; returns kernel name to {total ms,
     * launches}. For the benchmark's breakdown (graph replay hides the individual kernels).
     */
    public java.util.Map<String, double[]> profileStep(List<StepRequest> requests) {
        return ctx.call(() -> {
            KernelTimer timer = new KernelTimer();
            KernelTimer.active = timer;
            try {
                step(requests);
                ctx.synchronize();
            } finally {
                KernelTimer.active = null;
            }
            return timer.totals();
        });
    }

    /** For the benchmark and tests: runs {@code work} on the engine's CUDA thread with its kernels. */
    public <T> T onDevice(java.util.function.Function<CudaKernels, T> work) {
        return ctx.call(() -> work.apply(kernels));
    }

    CudaContext context() {
        return ctx;
    }

    int capturedGraphs() {
        return ctx.call(() -> forward == null ? 0 : forward.capturedGraphs());
    }

    @Override
    public void close() {
        try {
            ctx.run(() -> {
                if (forward != null) forward.close();
                if (io != null) io.close();
                if (ws != null) ws.close();
                if (kv != null) kv.close();
                if (weights != null) weights.close();
                if (module != null) module.close();
            });
        } finally {
            ctx.close();
        }
    }
}

package qwenchat.engine.cuda;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import jcuda.Pointer;
import qwenchat.engine.EngineException;
import qwenchat.engine.EngineInfo;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.cpu.Rope;
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

    /** @param graphs replay captured CUDA graphs for decode steps (off only for debugging) */
    public record Options(int device, boolean graphs) {
        public static Options defaults() {
            return new Options(0, true);
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
        this.capacity = capacity;
        this.options = options;
        this.ctx = ctx;
        this.seqs = new SequenceTable(capacity.maxSequences(), capacity.maxTokensPerSequence());
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

    /** What the kernels require of the shapes; every Qwen2.5 size meets it. */
    static void checkShapes(ModelConfig c, KvCacheCapacity cap) {
        List<String> bad = new ArrayList<>();
        if (c.hiddenSize() % 8 != 0) bad.add("hidden_size " + c.hiddenSize() + " is not a multiple of 8");
        if (c.intermediateSize() % 8 != 0) bad.add("intermediate_size " + c.intermediateSize() + " is not a multiple of 8");
        if (c.headDim() % 8 != 0) bad.add("head_dim " + c.headDim() + " is not a multiple of 8");
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
        long wsBytes = Workspace.bytes(config, capacity.maxTokensPerSequence());
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
        ws = new Workspace(config, capacity.maxTokensPerSequence());
        // The CPU engine's table, so both engines rotate by the very same float32 frequencies.
        Rope rope = Rope.of(config);
        ws.invFreq.copyFromHost(rope.invFreq());
        kernels = new CudaKernels(module, ctx.stream());
        forward = new ForwardPass(config, weights, kv, ws, kernels, ctx.stream(), capacity.maxTokensPerSequence(),
                rope.attentionScaling());
        io = PinnedBuffer.allocate(64L * 1024);
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

    private static final int IO_TOKENS = 0;
    private static final int IO_SLOTS = 256;
    private static final int IO_POS = 512;
    private static final int IO_LOGIT_ROWS = 768;
    private static final int IO_RESULTS = 1024;

    /** Stages rows and runs one pass; logits of {@code logitRows} land in ws.logits rows 0.. */
    private void pass(int n, int[] tokens, int[] slots, int[] pos, int[] logitRows, int nLogit, boolean graph) {
        ByteBuffer b = io.buffer();
        int maxLen = 0;
        for (int i = 0; i < n; i++) {
            b.putInt(IO_TOKENS + 4 * i, tokens[i]);
            b.putInt(IO_SLOTS + 4 * i, slots[i]);
            b.putInt(IO_POS + 4 * i, pos[i]);
            maxLen = Math.max(maxLen, pos[i] + 1);
        }
        for (int i = 0; i < nLogit; i++) b.putInt(IO_LOGIT_ROWS + 4 * i, logitRows[i]);
        Pointer p = io.pointer();
        ws.tokens.copyFromHostAsync(p.withByteOffset(IO_TOKENS), 0, 4L * n, ctx.stream());
        ws.slots.copyFromHostAsync(p.withByteOffset(IO_SLOTS), 0, 4L * n, ctx.stream());
        ws.positions.copyFromHostAsync(p.withByteOffset(IO_POS), 0, 4L * n, ctx.stream());
        if (nLogit > 0) ws.logitRows.copyFromHostAsync(p.withByteOffset(IO_LOGIT_ROWS), 0, 4L * nLogit, ctx.stream());
        forward.enqueue(n, nLogit, maxLen, graph && options.graphs());
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

    /** Runs a prefill in chunks; logits of the wanted rows are fetched per chunk into {@code sink}. */
    private void prefillChunks(int seq, int[] tokens, boolean allPositions, List<float[]> sink) {
        int max = CudaKernels.MAX_ROWS;
        int[] slots = new int[max];
        int[] pos = new int[max];
        int[] logitRows = new int[max];
        for (int from = 0; from < tokens.length; from += max) {
            int n = Math.min(max, tokens.length - from);
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
            pass(n, Arrays.copyOfRange(tokens, from, from + n), slots, pos, logitRows, nLogit, false);
            seqs.append(seq, tokens, from, n, false);
            if (sink != null && nLogit > 0) sink.addAll(Arrays.asList(readLogits(nLogit)));
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
        pass(n, tok, slots, pos, logitRows, n, true);
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
            requireSupported(r.sampling());
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
     * Greedy decoding is decided on the GPU (argmax and log-softmax over ws.logits rows 0..n-1); only
     * ids and a few log-probabilities are read back.
     */
    private SampledToken[] pick(List<StepRequest> rows) {
        int n = rows.size();
        int k = 1;
        for (StepRequest r : rows) k = Math.max(k, r.topLogprobs());
        kernels.logitsTopk(ws.logits.ptr(), n, config.vocabSize(), k, ws.topIds.ptr(), ws.topLogprobs.ptr(), ws.lse.ptr());
        Pointer p = io.pointer();
        long idsBytes = 4L * n * k;
        ws.topIds.copyToHostAsync(p.withByteOffset(IO_RESULTS), 0, idsBytes, ctx.stream());
        ws.topLogprobs.copyToHostAsync(p.withByteOffset(IO_RESULTS + idsBytes), 0, idsBytes, ctx.stream());
        ctx.synchronize();
        ByteBuffer b = io.buffer();
        SampledToken[] out = new SampledToken[n];
        for (int i = 0; i < n; i++) {
            StepRequest r = rows.get(i);
            int want = r.topLogprobs();
            int[] ids = new int[want];
            float[] lps = new float[want];
            for (int j = 0; j < want; j++) {
                ids[j] = b.getInt((int) (IO_RESULTS + 4L * (i * k + j)));
                lps[j] = b.getFloat((int) (IO_RESULTS + idsBytes + 4L * (i * k + j)));
            }
            int token = b.getInt((int) (IO_RESULTS + 4L * i * k));
            float lp = b.getFloat((int) (IO_RESULTS + idsBytes + 4L * i * k));
            out[i] = new SampledToken(r.sequence(), token, lp, ids, lps);
        }
        return out;
    }

    private static void requireSupported(SamplingParams p) {
        boolean plainGreedy = p.greedy() && p.repetitionPenalty() == 1 && p.presencePenalty() == 0
                && p.frequencyPenalty() == 0;
        if (!plainGreedy) {
            throw new EngineException("the CUDA engine's step() supports greedy decoding without penalties only so far; got "
                    + p);
        }
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

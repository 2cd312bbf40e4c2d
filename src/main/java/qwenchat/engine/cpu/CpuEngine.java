package qwenchat.engine.cpu;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import qwenchat.engine.BiasMask;
import qwenchat.engine.EngineException;
import qwenchat.engine.EngineInfo;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvBlockUsage;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.LabPass;
import qwenchat.engine.kv.KvBlockManager;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.sampling.Sampler;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;

/**
 * Qwen2 in plain Java, float32 arithmetic over bf16 weights read in place: the oracle the CUDA
 * engine is tested against, and the fallback without a GPU. Matches transformers' Qwen2 up to
 * float rounding (see the golden parity tests). The checkpoint must stay open while the engine lives.
 * Its KV cache is paged like the CUDA engine's: a {@link KvBlockManager} hands out blocks of the
 * {@link PagedKvStore} as sequences grow, and every step takes its blocks before computing anything.
 */
public final class CpuEngine implements InferenceEngine {

    /** Long prompts run in chunks of this many tokens, bounding activation memory. */
    static final int PREFILL_CHUNK = 256;

    private final ModelConfig config;
    private final KvCacheCapacity capacity;
    private final ModelWeights weights;
    private final Parallel parallel;
    private final Qwen2Forward forward;
    private final KvBlockManager blocks;
    private final PagedKvStore kv;
    private final SequenceState[] slots; // by sequence id, null where not open
    private final int threads;
    private boolean closed;

    private CpuEngine(ModelConfig config, ModelWeights weights, KvCacheCapacity capacity, CpuEngineOptions options) {
        this.config = config;
        this.capacity = capacity;
        this.weights = weights;
        this.threads = options.scalarOracle() ? 1 : options.threads();
        this.parallel = new Parallel(threads);
        MatrixOps ops = options.scalarOracle() ? new ScalarMatrixOps() : new ParallelMatrixOps(parallel);
        this.blocks = new KvBlockManager(capacity);
        this.kv = new PagedKvStore(config.numHiddenLayers(), config.numKeyValueHeads(), config.headDim(),
                capacity.blockSize(), capacity.totalBlocks());
        this.forward = new Qwen2Forward(config, weights, ops, parallel, kv);
        this.slots = new SequenceState[capacity.maxSequences()];
    }

    public static CpuEngine load(ModelConfig config, Checkpoint checkpoint, KvCacheCapacity capacity) {
        return load(config, checkpoint, capacity, CpuEngineOptions.defaults());
    }

    public static CpuEngine load(ModelConfig config, Checkpoint checkpoint, KvCacheCapacity capacity,
            CpuEngineOptions options) {
        ModelWeights w = ModelWeights.load(config, checkpoint, options.overrides(), options.progress());
        return new CpuEngine(config, w, capacity, options);
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public EngineInfo info() {
        String device = threads + " thread(s) on " + Runtime.getRuntime().availableProcessors() + " core(s), "
                + System.getProperty("os.arch") + ", Java " + Runtime.version().feature();
        return new EngineInfo("cpu", device, null, null, weights.bytes(), kv.bytes(), 0, 0);
    }

    @Override
    public KvCacheCapacity capacity() {
        return capacity;
    }

    @Override
    public KvBlockUsage kvUsage() {
        return blocks.usage();
    }

    @Override
    public int openSequence() {
        checkOpen();
        int id = blocks.openSequence();
        slots[id] = new SequenceState(id, blocks.table(id));
        return id;
    }

    @Override
    public void freeSequence(int sequence) {
        if (sequence >= 0 && sequence < slots.length && slots[sequence] != null) {
            blocks.freeSequence(sequence);
            slots[sequence] = null;
        }
    }

    @Override
    public int cachedPrefixLength(int[] tokens) {
        checkOpen();
        return blocks.cachedPrefixLength(tokens);
    }

    @Override
    public int reuseCachedPrefix(int sequence, int[] tokens, int promptLength) {
        SequenceState s = state(sequence);
        int reused = blocks.reuseCachedPrefix(sequence, tokens);
        s.length = reused;
        int[] prefix = java.util.Arrays.copyOf(tokens, reused);
        s.addToHistory(prefix, Math.max(0, reused - promptLength));
        return reused;
    }

    @Override
    public int sequenceLength(int sequence) {
        return state(sequence).length;
    }

    @Override
    public int openSequenceCount() {
        return blocks.openSequenceCount();
    }

    @Override
    public float[][] prefillLogits(int sequence, int[] tokens, boolean allPositions) {
        SequenceState s = state(sequence);
        if (tokens.length == 0) throw new IllegalArgumentException("prefill needs at least one token");
        checkVocabulary(tokens);
        blocks.appendAll(new int[] {sequence}, new int[][] {tokens});
        float[][] logits = prefill(s, tokens, allPositions ? Rows.ALL : Rows.LAST);
        s.history.addPrompt(tokens);
        return logits;
    }

    @Override
    public float[][] decodeLogits(int[] sequences, int[] tokens) {
        if (sequences.length != tokens.length) {
            throw new IllegalArgumentException(sequences.length + " sequences but " + tokens.length + " tokens");
        }
        SequenceState[] states = distinctStates(sequences);
        checkVocabulary(tokens);
        int[][] ones = new int[sequences.length][];
        for (int i = 0; i < ones.length; i++) ones[i] = new int[] {tokens[i]};
        blocks.appendAll(sequences, ones);
        float[][] logits = decode(states, tokens);
        for (int i = 0; i < states.length; i++) states[i].history.addGenerated(tokens[i]);
        return logits;
    }

    @Override
    public List<SampledToken> step(List<StepRequest> requests) {
        int[] seqIds = requests.stream().mapToInt(StepRequest::sequence).toArray();
        SequenceState[] states = distinctStates(seqIds);
        for (StepRequest r : requests) {
            checkVocabulary(r.tokens());
            if (r.lab() != null) r.lab().requireLayers(config.numHiddenLayers());
        }
        // Every block the step needs is taken before any compute, so a step that cannot run changes nothing.
        blocks.appendAll(seqIds, requests.stream().map(StepRequest::tokens).toArray(int[][]::new));
        // Keys and values computed without some biases must never be found by another prompt's prefix.
        for (StepRequest r : requests) if (r.lab() != null && r.lab().changesKv()) blocks.forgetContents(r.sequence());
        try {
            return compute(requests, states);
        } catch (RuntimeException | Error e) {
            // Blocks named by this step may hold half-written keys and values; nobody may reuse them.
            for (int id : seqIds) blocks.forgetContents(id);
            throw e;
        }
    }

    private List<SampledToken> compute(List<StepRequest> requests, SequenceState[] states) {
        float[][] logits = new float[requests.size()][];
        List<Integer> decodes = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) {
            StepRequest r = requests.get(i);
            if (r.prefill()) {
                Qwen2Forward.Probe probe = r.probed()
                        ? new Qwen2Forward.Probe(config.numHiddenLayers(), config.numAttentionHeads()) : null;
                float[][] last = prefill(states[i], r.tokens(), r.sample() ? Rows.LAST : Rows.NONE, LabPass.droppedBiases(r), probe);
                logits[i] = r.sample() ? last[0] : null;
                if (probe != null) r.lab().probe().accept(probe.result());
                states[i].addToHistory(r.tokens(), r.generatedTail());
            } else {
                decodes.add(i);
            }
        }
        if (!decodes.isEmpty()) {
            SequenceState[] ds = new SequenceState[decodes.size()];
            int[] dt = new int[decodes.size()];
            BiasMask[] masks = null;
            for (int j = 0; j < ds.length; j++) {
                ds[j] = states[decodes.get(j)];
                dt[j] = requests.get(decodes.get(j)).tokens()[0];
                BiasMask m = LabPass.droppedBiases(requests.get(decodes.get(j)));
                if (m != null) {
                    if (masks == null) masks = new BiasMask[ds.length];
                    masks[j] = m;
                }
            }
            float[][] dl = decode(ds, dt, masks);
            for (int j = 0; j < ds.length; j++) {
                logits[decodes.get(j)] = dl[j];
                ds[j].history.addGenerated(dt[j]);
            }
        }
        List<SampledToken> out = new ArrayList<>(requests.size());
        for (int i = 0; i < requests.size(); i++) {
            StepRequest r = requests.get(i);
            if (!r.sample()) {
                out.add(SampledToken.none(r.sequence()));
                continue;
            }
            out.add(Sampler.sample(r.sequence(), logits[i], r.sampling(), states[i].history, r.topLogprobs(), r.allowed()));
        }
        return out;
    }

    /** Which positions of a prefill need logits. */
    private enum Rows { ALL, LAST, NONE }

    private float[][] prefill(SequenceState s, int[] tokens, Rows wanted) {
        return prefill(s, tokens, wanted, null, null);
    }

    /**
     * @param mask every token's bias mask, or null
     * @param probe measures the prompt's last position (in the last chunk), or null; its row is set here
     */
    private float[][] prefill(SequenceState s, int[] tokens, Rows wanted, BiasMask mask, Qwen2Forward.Probe probe) {
        boolean allPositions = wanted == Rows.ALL;
        float[][] all = allPositions ? new float[tokens.length][] : null;
        float[][] last = null;
        for (int from = 0; from < tokens.length; from += PREFILL_CHUNK) {
            int n = Math.min(PREFILL_CHUNK, tokens.length - from);
            int[] chunk = new int[n];
            SequenceState[] seqs = new SequenceState[n];
            int[] pos = new int[n];
            for (int t = 0; t < n; t++) {
                chunk[t] = tokens[from + t];
                seqs[t] = s;
                pos[t] = s.length + t;
            }
            boolean lastChunk = from + n == tokens.length;
            int[] rows;
            if (allPositions) {
                rows = new int[n];
                for (int t = 0; t < n; t++) rows[t] = t;
            } else {
                rows = lastChunk && wanted == Rows.LAST ? new int[] {n - 1} : new int[0];
            }
            BiasMask[] masks = null;
            if (mask != null) {
                masks = new BiasMask[n];
                java.util.Arrays.fill(masks, mask);
            }
            Qwen2Forward.Probe chunkProbe = lastChunk ? probe : null;
            if (chunkProbe != null) chunkProbe.row = n - 1;
            float[][] logits = forward.run(chunk, seqs, pos, rows, masks, chunkProbe);
            s.length += n;
            if (allPositions) System.arraycopy(logits, 0, all, from, n);
            if (lastChunk && wanted == Rows.LAST) last = new float[][] {logits[logits.length - 1]};
        }
        return allPositions ? all : last;
    }

    private float[][] decode(SequenceState[] states, int[] tokens) {
        return decode(states, tokens, null);
    }

    private float[][] decode(SequenceState[] states, int[] tokens, BiasMask[] masks) {
        int n = states.length;
        int[] pos = new int[n];
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) {
            pos[i] = states[i].length;
            rows[i] = i;
        }
        float[][] logits = forward.run(tokens, states, pos, rows, masks, null);
        for (SequenceState s : states) s.length++;
        return logits;
    }

    private void checkVocabulary(int[] tokens) {
        for (int t : tokens) {
            if (t < 0 || t >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + t + " is outside the vocabulary [0, "
                        + config.vocabSize() + ")");
            }
        }
    }

    private SequenceState[] distinctStates(int[] sequences) {
        checkOpen();
        SequenceState[] states = new SequenceState[sequences.length];
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < sequences.length; i++) {
            if (!seen.add(sequences[i])) {
                throw new IllegalArgumentException("sequence " + sequences[i] + " appears twice in one step");
            }
            states[i] = state(sequences[i]);
        }
        return states;
    }

    private SequenceState state(int sequence) {
        checkOpen();
        if (sequence < 0 || sequence >= slots.length || slots[sequence] == null) {
            throw new IllegalArgumentException("sequence " + sequence + " is not open");
        }
        return slots[sequence];
    }

    private void checkOpen() {
        if (closed) throw new EngineException("the CPU engine is closed");
    }

    @Override
    public void close() {
        closed = true;
        parallel.close();
        for (int i = 0; i < slots.length; i++) slots[i] = null;
    }
}

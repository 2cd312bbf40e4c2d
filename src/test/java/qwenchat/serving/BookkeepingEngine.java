package qwenchat.serving;

import java.util.ArrayList;
import java.util.List;
import qwenchat.engine.EngineInfo;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvBlockUsage;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.kv.KvBlockManager;
import qwenchat.model.ModelConfig;

/**
 * An engine with the real KV bookkeeping (blocks, prefix cache) and no model: for planning tests
 * (every picked token is 7, and it records what each step received) and, through a subclass that
 * picks other ids and records nothing, for timing the serving loop alone.
 */
class BookkeepingEngine implements InferenceEngine {

    final KvBlockManager blocks;
    private final KvCacheCapacity capacity;
    final List<List<StepRequest>> steps = new ArrayList<>();
    private final boolean record;

    BookkeepingEngine(KvCacheCapacity capacity) {
        this(capacity, true);
    }

    BookkeepingEngine(KvCacheCapacity capacity, boolean record) {
        this.blocks = new KvBlockManager(capacity);
        this.capacity = capacity;
        this.record = record;
    }

    /** The id picked for a row that samples. */
    int pick(StepRequest r) {
        return 7;
    }

    @Override
    public List<SampledToken> step(List<StepRequest> requests) {
        int n = requests.size();
        int[] seqs = new int[n];
        int[][] tokens = new int[n][];
        for (int i = 0; i < n; i++) {
            seqs[i] = requests.get(i).sequence();
            tokens[i] = requests.get(i).tokens();
        }
        blocks.appendAll(seqs, tokens);
        if (record) steps.add(List.copyOf(requests));
        SampledToken[] out = new SampledToken[n];
        for (int i = 0; i < n; i++) {
            StepRequest r = requests.get(i);
            out[i] = r.sample() ? new SampledToken(r.sequence(), pick(r), 0, new int[0], new float[0])
                    : SampledToken.none(r.sequence());
        }
        return List.of(out);
    }

    @Override
    public ModelConfig config() {
        throw new UnsupportedOperationException();
    }

    @Override
    public EngineInfo info() {
        throw new UnsupportedOperationException();
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
        return blocks.openSequence();
    }

    @Override
    public void freeSequence(int sequence) {
        blocks.freeSequence(sequence);
    }

    @Override
    public int cachedPrefixLength(int[] tokens) {
        return blocks.cachedPrefixLength(tokens);
    }

    @Override
    public int reuseCachedPrefix(int sequence, int[] tokens, int promptLength) {
        return blocks.reuseCachedPrefix(sequence, tokens);
    }

    @Override
    public int sequenceLength(int sequence) {
        return blocks.sequenceLength(sequence);
    }

    @Override
    public int openSequenceCount() {
        return blocks.openSequenceCount();
    }

    @Override
    public float[][] prefillLogits(int sequence, int[] tokens, boolean allPositions) {
        throw new UnsupportedOperationException();
    }

    @Override
    public float[][] decodeLogits(int[] sequences, int[] tokens) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void close() {
    }
}

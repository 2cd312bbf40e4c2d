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
 * An engine with the real KV bookkeeping (blocks, prefix cache) and no model: for planning tests.
 * Every picked token is 7; it records what each step received.
 */
final class BookkeepingEngine implements InferenceEngine {

    final KvBlockManager blocks;
    final List<List<StepRequest>> steps = new ArrayList<>();

    BookkeepingEngine(KvCacheCapacity capacity) {
        this.blocks = new KvBlockManager(capacity);
    }

    @Override
    public List<SampledToken> step(List<StepRequest> requests) {
        blocks.appendAll(requests.stream().mapToInt(StepRequest::sequence).toArray(),
                requests.stream().map(StepRequest::tokens).toArray(int[][]::new));
        steps.add(List.copyOf(requests));
        return requests.stream().map(r -> r.sample()
                ? new SampledToken(r.sequence(), 7, 0, new int[0], new float[0])
                : SampledToken.none(r.sequence())).toList();
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
        return new KvCacheCapacity(blocks.maxSequences(), 1 << 20, blocks.blockSize(), blocks.totalBlocks());
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

package qwenchat.serving;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import qwenchat.engine.EngineInfo;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvBlockUsage;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.model.ModelConfig;

/** Passes every call to a real engine and records what each {@link #step} received. */
final class RecordingEngine implements InferenceEngine {

    private final InferenceEngine real;
    final List<List<StepRequest>> steps = Collections.synchronizedList(new ArrayList<>());

    RecordingEngine(InferenceEngine real) {
        this.real = real;
    }

    @Override
    public List<SampledToken> step(List<StepRequest> requests) {
        List<SampledToken> out = real.step(requests);
        steps.add(List.copyOf(requests));
        return out;
    }

    /** The recorded steps, a copy. */
    List<List<StepRequest>> steps() {
        synchronized (steps) {
            return List.copyOf(steps);
        }
    }

    @Override
    public ModelConfig config() {
        return real.config();
    }

    @Override
    public EngineInfo info() {
        return real.info();
    }

    @Override
    public KvCacheCapacity capacity() {
        return real.capacity();
    }

    @Override
    public KvBlockUsage kvUsage() {
        return real.kvUsage();
    }

    @Override
    public int openSequence() {
        return real.openSequence();
    }

    @Override
    public void freeSequence(int sequence) {
        real.freeSequence(sequence);
    }

    @Override
    public int cachedPrefixLength(int[] tokens) {
        return real.cachedPrefixLength(tokens);
    }

    @Override
    public int reuseCachedPrefix(int sequence, int[] tokens, int promptLength) {
        return real.reuseCachedPrefix(sequence, tokens, promptLength);
    }

    @Override
    public int sequenceLength(int sequence) {
        return real.sequenceLength(sequence);
    }

    @Override
    public int openSequenceCount() {
        return real.openSequenceCount();
    }

    @Override
    public float[][] prefillLogits(int sequence, int[] tokens, boolean allPositions) {
        return real.prefillLogits(sequence, tokens, allPositions);
    }

    @Override
    public float[][] decodeLogits(int[] sequences, int[] tokens) {
        return real.decodeLogits(sequences, tokens);
    }

    @Override
    public void close() {
        real.close();
    }
}

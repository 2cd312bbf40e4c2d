package qwenchat.admin;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import qwenchat.engine.EngineInfo;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvBlockUsage;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.model.ModelConfig;

/** A real engine whose {@link #step} hangs while {@link #block} is set, until {@link #release} — a stuck GPU in miniature. */
final class BlockingEngine implements InferenceEngine {

    private final InferenceEngine real;
    volatile boolean block;
    volatile CountDownLatch release = new CountDownLatch(1);
    final CountDownLatch entered = new CountDownLatch(1);

    BlockingEngine(InferenceEngine real) {
        this.real = real;
    }

    @Override
    public List<SampledToken> step(List<StepRequest> requests) {
        if (block) {
            entered.countDown();
            try {
                release.await(120, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return real.step(requests);
    }

    @Override public ModelConfig config() { return real.config(); }
    @Override public EngineInfo info() { return real.info(); }
    @Override public KvCacheCapacity capacity() { return real.capacity(); }
    @Override public KvBlockUsage kvUsage() { return real.kvUsage(); }
    @Override public int openSequence() { return real.openSequence(); }
    @Override public void freeSequence(int sequence) { real.freeSequence(sequence); }
    @Override public int sequenceLength(int sequence) { return real.sequenceLength(sequence); }
    @Override public int openSequenceCount() { return real.openSequenceCount(); }
    @Override public float[][] prefillLogits(int sequence, int[] tokens, boolean allPositions) {
        return real.prefillLogits(sequence, tokens, allPositions);
    }
    @Override public float[][] decodeLogits(int[] sequences, int[] tokens) { return real.decodeLogits(sequences, tokens); }
    @Override public void close() {
        release.countDown();
        real.close();
    }
}

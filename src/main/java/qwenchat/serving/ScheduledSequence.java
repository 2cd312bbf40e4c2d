package qwenchat.serving;

import qwenchat.generation.SequenceTracker;

/**
 * One request inside the scheduler. The handle side ({@link #cancel}) is safe from any thread;
 * everything else belongs to the loop thread.
 */
final class ScheduledSequence implements GenerationHandle {

    final GenerationRequest request;
    final GenerationListener listener;
    final long submitNanos;
    final long deadlineNanos;
    final int reservedTokens;
    private final Runnable wakeUp;

    private volatile boolean cancelRequested;
    private volatile boolean done;

    // Loop thread only.
    int slot = -1;
    boolean prefilled;
    int lastToken;
    long startNanos;
    long firstTokenNanos;
    long lastTokenNanos;
    SequenceTracker tracker;

    ScheduledSequence(GenerationRequest request, GenerationListener listener, long submitNanos, long deadlineNanos,
            int reservedTokens, Runnable wakeUp) {
        this.request = request;
        this.listener = listener;
        this.submitNanos = submitNanos;
        this.deadlineNanos = deadlineNanos;
        this.reservedTokens = reservedTokens;
        this.wakeUp = wakeUp;
    }

    @Override
    public String requestId() {
        return request.requestId();
    }

    @Override
    public void cancel() {
        if (done || cancelRequested) return;
        cancelRequested = true;
        wakeUp.run();
    }

    @Override
    public boolean isDone() {
        return done;
    }

    boolean cancelRequested() {
        return cancelRequested;
    }

    void markDone() {
        done = true;
    }
}

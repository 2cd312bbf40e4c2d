package qwenchat.serving;

import qwenchat.generation.SequenceTracker;
import qwenchat.generation.GenerationRequest;

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
    SequenceTracker tracker;      // null until first admitted; kept across preemptions
    int preemptions;
    /** Prompt tokens its first prefill found in the prefix cache (OpenAI's cached_tokens). */
    int cachedPromptTokens;
    private int[] generated = new int[16];
    private int generatedCount;

    ScheduledSequence(GenerationRequest request, GenerationListener listener, long submitNanos, long deadlineNanos,
            int reservedTokens, Runnable wakeUp) {
        this.request = request;
        this.listener = listener;
        this.submitNanos = submitNanos;
        this.deadlineNanos = deadlineNanos;
        this.reservedTokens = reservedTokens;
        this.wakeUp = wakeUp;
    }

    /** Remembers a sampled token, for recomputing the sequence should it be preempted. */
    void addGenerated(int token) {
        if (generatedCount == generated.length) generated = java.util.Arrays.copyOf(generated, generatedCount * 2);
        generated[generatedCount++] = token;
    }

    int generatedCount() {
        return generatedCount;
    }

    /** What its next prefill feeds: the prompt, then every token sampled before a preemption. */
    int[] feedTokens() {
        int[] prompt = request.promptIds();
        int[] all = java.util.Arrays.copyOf(prompt, prompt.length + generatedCount);
        System.arraycopy(generated, 0, all, prompt.length, generatedCount);
        return all;
    }

    int feedLength() {
        return request.promptIds().length + generatedCount;
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

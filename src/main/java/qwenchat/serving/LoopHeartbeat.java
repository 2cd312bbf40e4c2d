package qwenchat.serving;

/**
 * The scheduler loop's pulse: it beats on every iteration and marks when an engine step starts and
 * ends, so a watcher on another thread can tell a busy-but-stuck loop from an idle one without
 * touching the engine (CUDA contexts belong to the engine thread).
 */
public final class LoopHeartbeat {

    private volatile long lastBeatNanos = System.nanoTime();
    private volatile long stepStartedNanos;
    private volatile boolean stepping;
    private volatile boolean working;

    void beat() {
        lastBeatNanos = System.nanoTime();
    }

    /** Whether the iteration now running has sequences to serve (an idle loop is never stalled). */
    void working(boolean hasWork) {
        working = hasWork;
    }

    void stepStarted() {
        stepStartedNanos = System.nanoTime();
        stepping = true;
    }

    void stepEnded() {
        stepping = false;
        lastBeatNanos = System.nanoTime();
    }

    /** True while the loop serves sequences, from admission until it next finds nothing to do. */
    public boolean working() {
        return working;
    }

    /** Nanoseconds since the loop last beat. */
    public long sinceLastBeatNanos() {
        return System.nanoTime() - lastBeatNanos;
    }

    /** How long the engine step now running has taken; -1 when no step runs. */
    public long stepRunningNanos() {
        if (!stepping) return -1;
        long started = stepStartedNanos;
        return stepping ? System.nanoTime() - started : -1;
    }
}

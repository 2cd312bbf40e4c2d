package qwenchat.serving;

import java.time.Duration;

/** Waits, in tests, for a model runtime to finish loading. */
public final class LoadWait {

    private LoadWait() {
    }

    /** Waits until loading has ended, ready or failed, or {@code within} has passed; returns the status then. */
    public static LoadStatus settled(ModelRuntime runtime, Duration within) throws InterruptedException {
        long end = System.nanoTime() + within.toNanos();
        while (runtime.status().state() == LoadState.LOADING && System.nanoTime() < end) Thread.sleep(20);
        return runtime.status();
    }

    /** Waits up to two minutes for the model to be ready; anything else fails the test with the status. */
    public static ServedModel ready(ModelRuntime runtime) throws InterruptedException {
        LoadStatus status = settled(runtime, Duration.ofSeconds(120));
        if (status.state() != LoadState.READY) throw new AssertionError("the model did not become ready: " + status);
        return runtime.served().orElseThrow();
    }
}

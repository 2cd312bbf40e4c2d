package qwenchat.engine.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import qwenchat.engine.EngineException;

/** A fixed pool of worker threads that splits index ranges; owned by one engine and closed with it. */
final class Parallel implements AutoCloseable {

    @FunctionalInterface
    interface RangeBody {
        void run(int start, int end);
    }

    private final int threads;
    private final ExecutorService pool;

    Parallel(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        AtomicInteger n = new AtomicInteger();
        // The caller runs one share itself, so threads-1 workers keep every core busy.
        this.pool = threads == 1 ? null : Executors.newFixedThreadPool(threads - 1, r -> {
            Thread t = new Thread(r, "cpu-engine-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    int threads() {
        return threads;
    }

    /** Runs {@code body} over {@code [0, n)} in contiguous chunks of at least {@code minChunk}. */
    void forRange(int n, int minChunk, RangeBody body) {
        int chunks = Math.min(threads, Math.max(1, n / Math.max(1, minChunk)));
        if (chunks <= 1 || pool == null) {
            body.run(0, n);
            return;
        }
        List<Future<?>> futures = new ArrayList<>(chunks - 1);
        for (int c = 1; c < chunks; c++) {
            int start = (int) ((long) n * c / chunks);
            int end = (int) ((long) n * (c + 1) / chunks);
            futures.add(pool.submit(() -> body.run(start, end)));
        }
        Throwable failure = null;
        try {
            body.run(0, (int) ((long) n / chunks));
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (ExecutionException e) {
                if (failure == null) failure = e.getCause();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new EngineException("interrupted while waiting for CPU engine workers", e);
            }
        }
        if (failure instanceof RuntimeException r) throw r;
        if (failure instanceof Error err) throw err;
        if (failure != null) throw new EngineException("CPU engine worker failed", failure);
    }

    @Override
    public void close() {
        if (pool != null) pool.shutdownNow();
    }
}

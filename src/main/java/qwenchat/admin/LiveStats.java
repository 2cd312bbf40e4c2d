package qwenchat.admin;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.EngineSnapshot;
import qwenchat.serving.RequestOutcome;
import qwenchat.serving.SchedulerObserver;

/**
 * Turns the scheduler's events into one {@link Sample} per tick for the dashboard. The loop thread
 * only adds to counters and queues; {@link #tick} (one sampler thread) drains them.
 */
final class LiveStats implements SchedulerObserver {

    /** Ticks of latency values the percentiles cover. */
    static final int WINDOW_TICKS = 10;
    /** Latency values kept per tick; a flood beyond this is dropped rather than queued without bound. */
    static final int MAX_VALUES_PER_TICK = 20_000;

    private final BatchScheduler scheduler;
    private final LongAdder prefillTokens = new LongAdder();
    private final LongAdder decodeTokens = new LongAdder();
    private final LongAdder completed = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder preemptions = new LongAdder();
    private final Latencies ttft = new Latencies();
    private final Latencies itl = new Latencies();

    // Sampler thread only.
    private long lastTickNanos = System.nanoTime();
    private long lastRejected;

    LiveStats(BatchScheduler scheduler) {
        this.scheduler = scheduler;
        lastRejected = scheduler.stats().rejectedBusy();
    }

    @Override
    public void onStep(int prefill, int decodes, long stepNanos) {
        if (prefill > 0) prefillTokens.add(prefill);
        if (decodes > 0) decodeTokens.add(decodes);
    }

    @Override
    public void onFirstToken(long queueNanos, long ttftNanos) {
        ttft.add(ttftNanos);
    }

    @Override
    public void onInterTokenLatency(long nanos) {
        itl.add(nanos);
    }

    @Override
    public void onPreemption() {
        preemptions.increment();
    }

    @Override
    public void onFinished(RequestOutcome o) {
        if (o.finishReason().equals("error")) failed.increment();
        else completed.increment();
    }

    /** The sample for the interval since the previous tick. */
    Sample tick(long epochSecond) {
        long now = System.nanoTime();
        double seconds = Math.max(1e-3, (now - lastTickNanos) / 1e9);
        lastTickNanos = now;
        long rejected = scheduler.stats().rejectedBusy();
        long newlyRejected = rejected - lastRejected;
        lastRejected = rejected;
        double[] t = ttft.roll();
        double[] i = itl.roll();
        EngineSnapshot e = scheduler.engineSnapshot();
        double cap = e == null ? 0 : e.capacityTokens();
        return new Sample(epochSecond, scheduler.runningCount(), scheduler.waitingCount(),
                decodeTokens.sumThenReset() / seconds, prefillTokens.sumThenReset() / seconds,
                percentile(t, 0.5), percentile(t, 0.95), percentile(i, 0.5), percentile(i, 0.95),
                cap == 0 ? 0 : e.usedTokens() / cap, e == null ? 0 : e.blockUsage(),
                completed.sumThenReset(), failed.sumThenReset() + newlyRejected, preemptions.sumThenReset());
    }

    /** Nearest-rank percentile in milliseconds of a sorted array of nanoseconds; null when empty. */
    static Double percentile(double[] sortedNanos, double p) {
        if (sortedNanos.length == 0) return null;
        int rank = (int) Math.ceil(p * sortedNanos.length);
        return sortedNanos[Math.max(0, rank - 1)] / 1e6;
    }

    /** Latency values of the last {@link #WINDOW_TICKS} ticks. */
    private static final class Latencies {
        private final ConcurrentLinkedQueue<Long> incoming = new ConcurrentLinkedQueue<>();
        private final AtomicInteger pending = new AtomicInteger();
        private final ArrayDeque<double[]> window = new ArrayDeque<>();

        void add(long nanos) {
            if (pending.incrementAndGet() > MAX_VALUES_PER_TICK) {
                pending.decrementAndGet();
                return;
            }
            incoming.add(nanos);
        }

        /** Closes the current tick and returns the window's values, sorted. */
        double[] roll() {
            int n = pending.get();
            double[] tick = new double[n];
            int k = 0;
            for (Long v; k < n && (v = incoming.poll()) != null; ) tick[k++] = v;
            pending.addAndGet(-k);
            window.addLast(k == n ? tick : Arrays.copyOf(tick, k));
            while (window.size() > WINDOW_TICKS) window.removeFirst();
            double[] all = window.stream().flatMapToDouble(Arrays::stream).toArray();
            Arrays.sort(all);
            return all;
        }
    }
}

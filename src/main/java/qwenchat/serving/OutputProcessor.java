package qwenchat.serving;

import java.util.List;
import qwenchat.generation.GenerationUsage;
import qwenchat.generation.FinishReason;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.generation.SequenceTracker;
import qwenchat.generation.TextDecoder;

/**
 * What becomes of a step's results: each picked token goes through its sequence's tracker (text,
 * stop strings, limits) to its listener, and a sequence that finishes, fails or is dropped gets its
 * usage and outcome. Counts what it saw, for {@link SchedulerStats}. Loop thread only; listeners
 * and observers that throw never break the loop.
 */
final class OutputProcessor {

    private static final Logger log = LoggerFactory.getLogger(OutputProcessor.class);

    private final List<SchedulerObserver> observers;
    private final Set<Integer> eosIds;
    private final ServedModel served;

    long tokensGenerated;
    long completed;
    long cancelled;
    long failed;
    // Mean time a finished request held its slot, for Retry-After estimates.
    private volatile double meanServiceMillis = 1000;

    OutputProcessor(ServedModel served, Set<Integer> eosIds, List<SchedulerObserver> observers) {
        this.served = served;
        this.eosIds = eosIds;
        this.observers = observers;
    }

    double meanServiceMillis() {
        return meanServiceMillis;
    }

    /**
     * A sequence's first admission: it gets its tracker and its listener hears the start. False
     * when the listener threw, so the sequence must be dropped.
     */
    boolean start(ScheduledSequence s) {
        s.startNanos = System.nanoTime();
        s.tracker = new SequenceTracker(TextDecoder.of(served.tokenizer()), s.request.stop(), eosIds,
                s.request.maxNewTokens(), served.contextLength());
        return notify(s, () -> s.listener.onStart(s.request.promptIds().length));
    }

    /** A step ran: its shape and time, for the metrics. */
    void stepRan(int prefillTokens, int decodes, long stepNanos) {
        observe(o -> o.onStep(prefillTokens, decodes, stepNanos));
    }

    /** A newcomer looked for its feed in the prefix cache and found {@code hits} tokens of it. */
    void prefixLookup(int queried, int hits) {
        observe(o -> o.onPrefixCacheLookup(queried, hits));
    }

    void preempted() {
        observe(SchedulerObserver::onPreemption);
    }

    /**
     * Hands a picked token to its sequence.
     *
     * @param kvLength tokens the sequence's KV holds now
     * @return why the sequence is finished, or null while it goes on
     */
    FinishReason token(ScheduledSequence s, SampledToken t, int kvLength, long now) {
        if (!t.picked()) throw new IllegalArgumentException("request " + s.requestId() + ": a step that picked nothing has no token");
        if (!s.prefilled && s.firstTokenNanos == 0) {
            s.firstTokenNanos = now;
            long queue = s.startNanos - s.submitNanos;
            observe(o -> o.onFirstToken(queue, now - s.submitNanos));
        } else {
            interTokenLatency(now - s.lastTokenNanos);
        }
        s.prefilled = true;
        s.lastTokenNanos = now;
        tokensGenerated++;
        s.lastToken = t.token();
        s.addGenerated(t.token());
        String text;
        try {
            // The grammar moves only here, on a picked token: chunks that pick nothing never reach
            // this method, and a preemption keeps the state, since its recompute picks the next token.
            if (s.request.constraint() != null) s.request.constraint().accept(t.token());
            text = s.tracker.accept(t.token(), kvLength);
        } catch (RuntimeException e) {
            log.error("request {}: cannot process token {}", s.requestId(), t.token(), e);
            fail(s, new GenerationException(GenerationException.Code.ENGINE_FAILURE,
                    "generation failed at token id " + t.token(), null, e));
            return FinishReason.CANCELLED;
        }
        GeneratedToken token = new GeneratedToken(t.token(), text, t.logprob(), t.topIds(), t.topLogprobs());
        boolean ok = notify(s, () -> s.listener.onToken(token));
        FinishReason reason = s.tracker.finishReason();
        if (!ok) reason = FinishReason.CANCELLED;
        if (reason != null) complete(s, reason, reason == FinishReason.CANCELLED ? "" : s.tracker.finish());
        return reason;
    }

    void complete(ScheduledSequence s, FinishReason reason, String tail) {
        if (s.isDone()) return;
        s.markDone();
        long end = System.nanoTime();
        if (reason == FinishReason.CANCELLED || reason == FinishReason.TIMEOUT) cancelled++;
        else completed++;
        if (s.startNanos > 0) meanServiceMillis = 0.9 * meanServiceMillis + 0.1 * (end - s.startNanos) / 1e6;
        int sampled = s.tracker == null ? 0 : s.tracker.sampledCount();
        long queue = s.startNanos > 0 ? s.startNanos - s.submitNanos : end - s.submitNanos;
        long ttft = s.firstTokenNanos > 0 ? s.firstTokenNanos - s.submitNanos : 0;
        double decodeSeconds = s.firstTokenNanos > 0 ? (end - s.firstTokenNanos) / 1e9 : 0;
        GenerationUsage usage = new GenerationUsage(s.request.promptIds().length, sampled, queue / 1_000_000,
                ttft / 1_000_000, (end - s.submitNanos) / 1_000_000,
                sampled > 1 && decodeSeconds > 0 ? (sampled - 1) / decodeSeconds : 0, s.cachedPromptTokens);
        notify(s, () -> s.listener.onComplete(reason, tail, usage));
        observe(o -> o.onFinished(new RequestOutcome(s.requestId(), usage.promptTokens(), sampled, queue,
                s.firstTokenNanos > 0 ? ttft : -1, end - s.submitNanos, reason.wireName(), null,
                usage.decodeTokensPerSecond())));
    }

    void fail(ScheduledSequence s, GenerationException e) {
        if (s.isDone()) return;
        s.markDone();
        failed++;
        notify(s, () -> s.listener.onError(e));
        long end = System.nanoTime();
        int sampled = s.tracker == null ? 0 : s.tracker.sampledCount();
        observe(o -> o.onFinished(new RequestOutcome(s.requestId(), s.request.promptIds().length, sampled,
                (s.startNanos > 0 ? s.startNanos : end) - s.submitNanos,
                s.firstTokenNanos > 0 ? s.firstTokenNanos - s.submitNanos : -1, end - s.submitNanos, "error",
                e.code().name(), 0)));
    }

    /** Once per token: a plain loop, without the capturing lambda {@link #observe} would allocate each time. */
    private void interTokenLatency(long gap) {
        for (SchedulerObserver o : observers) {
            try {
                o.onInterTokenLatency(gap);
            } catch (RuntimeException e) {
                log.warn("scheduler observer {} failed", o.getClass().getName(), e);
            }
        }
    }

    /** Runs an observer callback; observers never break the loop. */
    private void observe(Consumer<SchedulerObserver> call) {
        for (SchedulerObserver o : observers) {
            try {
                call.accept(o);
            } catch (RuntimeException e) {
                log.warn("scheduler observer {} failed", o.getClass().getName(), e);
            }
        }
    }

    /** Runs a listener callback; a throwing listener loses its sequence, never the loop. */
    private static boolean notify(ScheduledSequence s, Runnable call) {
        try {
            call.run();
            return true;
        } catch (RuntimeException e) {
            log.warn("listener of request {} failed; cancelling it", s.requestId(), e);
            return false;
        }
    }
}

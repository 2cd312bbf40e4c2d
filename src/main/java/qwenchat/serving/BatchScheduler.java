package qwenchat.serving;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.LivenessState;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.beans.factory.DisposableBean;
import qwenchat.engine.EngineInfo;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvBlockUsage;
import qwenchat.engine.KvCacheFullException;
import qwenchat.engine.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.generation.SequenceTracker;
import qwenchat.generation.TextDecoder;
import qwenchat.serving.GenerationException.Code;

/**
 * Continuous batching on one loop thread. Each iteration it drops cancelled and timed-out
 * sequences, preempts the newest running ones if the paged KV pool cannot hold the coming step
 * ({@link PreemptionPolicy}), admits waiting requests while free blocks cover their prompts
 * ({@link KvAdmission}), then makes one {@link InferenceEngine#step} call carrying the newcomers'
 * prompts and one token for every running sequence, and streams the results to the listeners. A
 * preempted sequence waits at the head of the queue and is recomputed (prompt plus the tokens it
 * had generated, in one prefill), so its client sees the stream go on where it paused.
 */
public final class BatchScheduler implements GenerationService, DisposableBean {

    private static final Logger log = LoggerFactory.getLogger(BatchScheduler.class);

    private final QwenProperties properties;
    private final ModelRuntime runtime;
    private final ApplicationEventPublisher events;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final ArrayDeque<ScheduledSequence> waiting = new ArrayDeque<>(); // guarded by lock
    private boolean wakeRequested;                                            // guarded by lock

    private final List<ScheduledSequence> running = new ArrayList<>();         // loop thread only, by arrival
    private volatile LoadedModel model;
    private volatile Thread loop;
    private volatile boolean stopping;
    private volatile boolean dead;
    private volatile SchedulerStats stats = SchedulerStats.EMPTY;
    private volatile int slotsInUse;                                          // written by the loop only
    private final LoopHeartbeat heartbeat = new LoopHeartbeat();
    private final List<SchedulerObserver> observers = new CopyOnWriteArrayList<>();
    private volatile EngineSnapshot engineSnapshot;

    // Loop-thread counters, published through stats.
    private long steps;
    private int maxBatch;
    private int maxDecodeBatch;
    private long tokensGenerated;
    private long completed;
    private long cancelled;
    private long failed;
    private long preemptions;
    private volatile long rejectedBusy;
    private long reservedTokens;
    private Set<Integer> eosIds = Set.of();
    // Mean time a finished request held its slot, for Retry-After estimates.
    private volatile double meanServiceMillis = 1000;

    public BatchScheduler(QwenProperties properties, ModelRuntime runtime, ApplicationEventPublisher events) {
        this.properties = properties;
        this.runtime = runtime;
        this.events = events;
    }

    /** Starts serving {@code loaded}; called by the loader just before the model is declared READY. */
    void attach(LoadedModel loaded) {
        if (model != null) throw new IllegalStateException("a model is already attached");
        eosIds = new HashSet<>(loaded.served().generationDefaults().eosTokenIds());
        model = loaded;
        Thread t = new Thread(this::runLoop, "generation-scheduler");
        t.setDaemon(true);
        loop = t;
        t.start();
    }

    /** Adds a receiver of counts and timings (metrics, request log); see {@link SchedulerObserver}. */
    public void addObserver(SchedulerObserver observer) {
        observers.add(observer);
    }

    public LoopHeartbeat heartbeat() {
        return heartbeat;
    }

    /** The engine as the loop last saw it; null before a model is attached. */
    public EngineSnapshot engineSnapshot() {
        return engineSnapshot;
    }

    /** False once the loop has crashed. */
    public boolean loopAlive() {
        return !dead;
    }

    public SchedulerStats stats() {
        SchedulerStats s = stats;
        return new SchedulerStats(s.steps(), s.maxBatch(), s.maxDecodeBatch(), s.tokensGenerated(), s.completed(),
                s.cancelled(), s.failed(), rejectedBusy, s.running(), s.waiting(), s.openSequences(), s.kvCacheBytes(),
                s.reservedTokens(), s.preemptions());
    }

    @Override
    public int runningCount() {
        return stats.running();
    }

    @Override
    public int waitingCount() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public GenerationHandle submit(GenerationRequest request, GenerationListener listener) {
        LoadedModel m = model;
        if (m == null || dead) throw notReady();
        if (request == null || listener == null) {
            throw new GenerationException(Code.INVALID_REQUEST, "a generation needs a request and a listener");
        }
        validate(request, m.served(), m.engine().capacity());
        long now = System.nanoTime();
        ScheduledSequence s = new ScheduledSequence(request, listener, now,
                now + properties.requestTimeout().toNanos(),
                request.promptIds().length + request.maxNewTokens(), this::wakeUp);
        lock.lock();
        try {
            if (stopping) throw new GenerationException(Code.MODEL_NOT_READY, "the server is shutting down");
            // Requests that a free slot will take at the next iteration do not count against the queue.
            int freeSlots = Math.max(0, properties.kvMaxSequences() - slotsInUse);
            if (waiting.size() - freeSlots >= properties.queueLimit()) {
                rejectedBusy++;
                int retry = retryAfterSeconds();
                throw new GenerationException(Code.BUSY, "the server is busy: " + waiting.size()
                        + " requests are already waiting; retry in " + retry + " s", retry, null);
            }
            waiting.addLast(s);
            wakeRequested = true;
            work.signalAll();
        } finally {
            lock.unlock();
        }
        return s;
    }

    private GenerationException notReady() {
        if (dead) return new GenerationException(Code.ENGINE_FAILURE, "the generation engine stopped; see the server log");
        return NotReady.of(runtime.status());
    }

    private static void validate(GenerationRequest r, ServedModel served, qwenchat.engine.KvCacheCapacity kv) {
        if (r.promptIds() == null || r.promptIds().length == 0) {
            throw new GenerationException(Code.INVALID_REQUEST, "the prompt has no tokens");
        }
        int vocab = served.config().vocabSize();
        for (int id : r.promptIds()) {
            if (id < 0 || id >= vocab) {
                throw new GenerationException(Code.INVALID_REQUEST, "prompt token id " + id + " is outside the vocabulary of " + vocab);
            }
        }
        if (r.maxNewTokens() < 1) {
            throw new GenerationException(Code.INVALID_REQUEST, "max tokens must be >= 1, got " + r.maxNewTokens());
        }
        if (r.topLogprobs() < 0 || r.topLogprobs() > 20) {
            throw new GenerationException(Code.INVALID_REQUEST, "top_logprobs must be 0..20, got " + r.topLogprobs());
        }
        if (r.sampling() == null) throw new GenerationException(Code.INVALID_REQUEST, "sampling parameters are missing");
        for (String stop : r.stop()) {
            if (stop.isEmpty()) throw new GenerationException(Code.INVALID_REQUEST, "a stop string must not be empty");
        }
        String tooLong = KvAdmission.neverFits(r.promptIds().length, r.maxNewTokens(), kv, served.contextLength());
        if (tooLong != null) throw new GenerationException(Code.CONTEXT_OVERFLOW, tooLong);
    }

    private int retryAfterSeconds() {
        // Roughly how long until the queue ahead drains through the slots.
        double rounds = (double) (waiting.size() + 1) / properties.kvMaxSequences();
        return (int) Math.max(1, Math.min(600, Math.ceil(rounds * meanServiceMillis / 1000)));
    }

    private void wakeUp() {
        lock.lock();
        try {
            wakeRequested = true;
            work.signalAll();
        } finally {
            lock.unlock();
        }
    }

    // ---- the loop ----

    private void runLoop() {
        try {
            publishStats();
            while (!stopping) {
                List<ScheduledSequence> newcomers = awaitWorkAndAdmit();
                heartbeat.beat();
                heartbeat.working(!running.isEmpty());
                if (stopping) break;
                if (running.isEmpty()) {
                    publishStats();
                    continue;
                }
                step(newcomers);
                publishStats();
            }
        } catch (Throwable t) {
            dead = true;
            log.error("the generation scheduler loop crashed; liveness is now BROKEN", t);
            AvailabilityChangeEvent.publish(events, this, LivenessState.BROKEN);
            failEverything(new GenerationException(Code.ENGINE_FAILURE, "the generation engine stopped", null, t));
            return;
        }
        failEverything(new GenerationException(Code.MODEL_NOT_READY, "the server is shutting down"));
    }

    /** Waits until there is something to do, drops cancelled sequences, admits newcomers. */
    private List<ScheduledSequence> awaitWorkAndAdmit() throws InterruptedException {
        List<ScheduledSequence> dropped = new ArrayList<>();
        List<ScheduledSequence> admitted = new ArrayList<>();
        lock.lock();
        try {
            while (running.isEmpty() && waiting.isEmpty() && !wakeRequested && !stopping) {
                work.await(1, TimeUnit.SECONDS);
                heartbeat.beat();
            }
            wakeRequested = false;
            long now = System.nanoTime();
            for (Iterator<ScheduledSequence> it = waiting.iterator(); it.hasNext(); ) {
                ScheduledSequence s = it.next();
                if (s.cancelRequested() || now - s.deadlineNanos > 0) {
                    it.remove();
                    dropped.add(s);
                }
            }
        } finally {
            lock.unlock();
        }
        for (ScheduledSequence s : dropped) complete(s, FinishReason.CANCELLED, "");
        long now = System.nanoTime();
        for (Iterator<ScheduledSequence> it = running.iterator(); it.hasNext(); ) {
            ScheduledSequence s = it.next();
            if (s.cancelRequested() || now - s.deadlineNanos > 0) {
                it.remove();
                release(s);
                complete(s, FinishReason.CANCELLED, "");
            }
        }
        InferenceEngine engine = model.engine();
        // A step that preempted leaves the freed room to the sequences it keeps and to the victim
        // now at the head of the queue, rather than to a newcomer that would be preempted next.
        boolean preempted = preemptForNextStep(engine);
        KvBlockUsage usage = engine.kvUsage();
        int committed = 0;
        for (ScheduledSequence s : running) committed += blocksForNextStep(s, engine, usage);
        while (!preempted && running.size() < engine.capacity().maxSequences()) {
            ScheduledSequence s;
            lock.lock();
            try {
                s = waiting.peekFirst();
                if (s == null || !KvAdmission.admits(usage, committed, s.feedLength(), running.isEmpty())) break;
                waiting.pollFirst();
            } finally {
                lock.unlock();
            }
            if (admit(s, engine)) {
                admitted.add(s);
                committed += usage.blocksFor(s.feedLength());
            }
        }
        return admitted;
    }

    /** Blocks the sequence's part of the next step takes from the pool. */
    private static int blocksForNextStep(ScheduledSequence s, InferenceEngine engine, KvBlockUsage usage) {
        int held = engine.sequenceLength(s.slot);
        int adds = s.prefilled ? 1 : s.feedLength();
        return usage.blocksFor((long) held + adds) - usage.blocksFor(held);
    }

    /** Preempts the newest running sequences until the next step fits the pool; true if any was. */
    private boolean preemptForNextStep(InferenceEngine engine) {
        if (running.size() < 2) return false;
        KvBlockUsage usage = engine.kvUsage();
        int[] needs = new int[running.size()];
        int[] held = new int[running.size()];
        for (int i = 0; i < needs.length; i++) {
            ScheduledSequence s = running.get(i);
            needs[i] = blocksForNextStep(s, engine, usage);
            held[i] = usage.blocksFor(engine.sequenceLength(s.slot));
        }
        int victims = PreemptionPolicy.victims(needs, held, usage.freeBlocks());
        for (int i = 0; i < victims; i++) preempt(running.get(running.size() - 1));
        return victims > 0;
    }

    /** Frees the sequence's blocks and puts it back at the head of the queue, to be recomputed. */
    private void preempt(ScheduledSequence s) {
        running.remove(s);
        release(s);
        s.prefilled = false;
        s.preemptions++;
        preemptions++;
        lock.lock();
        try {
            waiting.addFirst(s);
        } finally {
            lock.unlock();
        }
        log.debug("request {}: preempted after {} generated tokens (KV blocks ran out); it will be recomputed",
                s.requestId(), s.generatedCount());
        observe(SchedulerObserver::onPreemption);
    }

    private boolean admit(ScheduledSequence s, InferenceEngine engine) {
        ServedModel served = model.served();
        s.slot = engine.openSequence();
        slotsInUse++;
        if (s.tracker != null) {
            // Back from a preemption: its client has seen the start and its tokens so far. It takes
            // its place by arrival again, so it is not the first to give way the next time.
            reservedTokens += s.reservedTokens;
            int at = running.size();
            while (at > 0 && running.get(at - 1).submitNanos > s.submitNanos) at--;
            running.add(at, s);
            return true;
        }
        s.startNanos = System.nanoTime();
        s.tracker = new SequenceTracker(TextDecoder.of(served.tokenizer()), s.request.stop(), eosIds,
                s.request.maxNewTokens(), served.contextLength());
        reservedTokens += s.reservedTokens;
        running.add(s);
        if (!notify(s, () -> s.listener.onStart(s.request.promptIds().length))) {
            running.remove(s);
            release(s);
            return false;
        }
        return true;
    }

    private void step(List<ScheduledSequence> newcomers) {
        InferenceEngine engine = model.engine();
        List<ScheduledSequence> batch = new ArrayList<>(running);
        List<StepRequest> requests = new ArrayList<>(batch.size());
        int decodes = 0;
        for (ScheduledSequence s : batch) {
            GenerationRequest r = s.request;
            if (!s.prefilled && s.generatedCount() == 0) {
                requests.add(StepRequest.prefill(s.slot, r.promptIds(), r.sampling(), r.topLogprobs()));
            } else if (!s.prefilled) {
                requests.add(StepRequest.recompute(s.slot, s.feedTokens(), s.generatedCount(), r.sampling(),
                        r.topLogprobs()));
            } else {
                requests.add(StepRequest.decode(s.slot, s.lastToken, r.sampling(), r.topLogprobs()));
                decodes++;
            }
        }
        List<SampledToken> results;
        long stepStart = System.nanoTime();
        heartbeat.stepStarted();
        try {
            results = engine.step(requests);
        } catch (KvCacheFullException e) {
            heartbeat.stepEnded();
            if (batch.size() > 1) {
                // The engine took nothing; make room as the pre-step check would have, and go again.
                log.debug("engine step found the KV pool short; preempting: {}", e.getMessage());
                preempt(running.get(running.size() - 1));
                return;
            }
            ScheduledSequence s = batch.get(0);
            running.remove(s);
            release(s);
            fail(s, new GenerationException(Code.ENGINE_FAILURE, "the KV cache cannot hold this request: "
                    + e.getMessage(), null, e));
            return;
        } catch (RuntimeException e) {
            heartbeat.stepEnded();
            // The engine rejected this step; its sequences cannot continue, but others may come.
            log.error("engine step with {} sequences failed", batch.size(), e);
            for (ScheduledSequence s : batch) {
                running.remove(s);
                release(s);
                fail(s, new GenerationException(Code.ENGINE_FAILURE, "the engine failed during generation", null, e));
            }
            return;
        }
        heartbeat.stepEnded();
        int prefillTokens = 0;
        for (StepRequest r : requests) if (r.prefill()) prefillTokens += r.tokens().length;
        int prefills = prefillTokens;
        int decoded = decodes;
        observe(o -> o.onStep(prefills, decoded, System.nanoTime() - stepStart));
        steps++;
        maxBatch = Math.max(maxBatch, batch.size());
        maxDecodeBatch = Math.max(maxDecodeBatch, decodes);
        long now = System.nanoTime();
        for (int i = 0; i < batch.size(); i++) {
            ScheduledSequence s = batch.get(i);
            SampledToken t = results.get(i);
            if (!s.prefilled && s.firstTokenNanos == 0) {
                s.prefilled = true;
                s.firstTokenNanos = now;
                long queue = s.startNanos - s.submitNanos;
                observe(o -> o.onFirstToken(queue, now - s.submitNanos));
            } else {
                s.prefilled = true;
                long gap = now - s.lastTokenNanos;
                observe(o -> o.onInterTokenLatency(gap));
            }
            s.lastTokenNanos = now;
            tokensGenerated++;
            s.lastToken = t.token();
            s.addGenerated(t.token());
            String text;
            try {
                text = s.tracker.accept(t.token(), engine.sequenceLength(s.slot));
            } catch (RuntimeException e) {
                log.error("request {}: cannot process token {}", s.requestId(), t.token(), e);
                running.remove(s);
                release(s);
                fail(s, new GenerationException(Code.ENGINE_FAILURE, "generation failed at token id " + t.token(), null, e));
                continue;
            }
            GeneratedToken token = new GeneratedToken(t.token(), text, t.logprob(), t.topIds(), t.topLogprobs());
            boolean ok = notify(s, () -> s.listener.onToken(token));
            FinishReason reason = s.tracker.finishReason();
            if (!ok) reason = FinishReason.CANCELLED;
            if (reason != null) {
                running.remove(s);
                release(s);
                complete(s, reason, reason == FinishReason.CANCELLED ? "" : s.tracker.finish());
            }
        }
    }

    private void release(ScheduledSequence s) {
        if (s.slot >= 0) {
            model.engine().freeSequence(s.slot);
            s.slot = -1;
            slotsInUse--;
            reservedTokens -= s.reservedTokens;
        }
    }

    private void complete(ScheduledSequence s, FinishReason reason, String tail) {
        if (s.isDone()) return;
        s.markDone();
        long end = System.nanoTime();
        if (reason == FinishReason.CANCELLED) cancelled++;
        else completed++;
        if (s.startNanos > 0) meanServiceMillis = 0.9 * meanServiceMillis + 0.1 * (end - s.startNanos) / 1e6;
        int sampled = s.tracker == null ? 0 : s.tracker.sampledCount();
        long queue = s.startNanos > 0 ? s.startNanos - s.submitNanos : end - s.submitNanos;
        long ttft = s.firstTokenNanos > 0 ? s.firstTokenNanos - s.submitNanos : 0;
        double decodeSeconds = s.firstTokenNanos > 0 ? (end - s.firstTokenNanos) / 1e9 : 0;
        GenerationUsage usage = new GenerationUsage(s.request.promptIds().length, sampled, queue / 1_000_000,
                ttft / 1_000_000, (end - s.submitNanos) / 1_000_000,
                sampled > 1 && decodeSeconds > 0 ? (sampled - 1) / decodeSeconds : 0);
        notify(s, () -> s.listener.onComplete(reason, tail, usage));
        observe(o -> o.onFinished(new RequestOutcome(s.requestId(), usage.promptTokens(), sampled, queue,
                s.firstTokenNanos > 0 ? ttft : -1, end - s.submitNanos, reason.wireName(), null,
                usage.decodeTokensPerSecond())));
    }

    /** Runs an observer callback; observers never break the loop. */
    private void observe(java.util.function.Consumer<SchedulerObserver> call) {
        for (SchedulerObserver o : observers) {
            try {
                call.accept(o);
            } catch (RuntimeException e) {
                log.warn("scheduler observer {} failed", o.getClass().getName(), e);
            }
        }
    }

    private void fail(ScheduledSequence s, GenerationException e) {
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

    private void failEverything(GenerationException e) {
        for (ScheduledSequence s : running) {
            try {
                release(s);
            } catch (RuntimeException ignored) {
                // The engine may be what broke; the sequence fails either way.
            }
            fail(s, e);
        }
        running.clear();
        List<ScheduledSequence> queued;
        lock.lock();
        try {
            queued = new ArrayList<>(waiting);
            waiting.clear();
        } finally {
            lock.unlock();
        }
        for (ScheduledSequence s : queued) fail(s, e);
        publishStats();
    }

    private void publishStats() {
        LoadedModel m = model;
        int open = 0;
        long kv = 0;
        if (m != null && !dead) {
            try {
                InferenceEngine engine = m.engine();
                open = engine.openSequenceCount();
                EngineInfo info = engine.info();
                kv = info.kvCacheBytes();
                long used = 0;
                for (ScheduledSequence s : running) if (s.slot >= 0) used += engine.sequenceLength(s.slot);
                engineSnapshot = new EngineSnapshot(info, engine.capacity(), open, used, reservedTokens,
                        System.currentTimeMillis(), engine.kvUsage());
            } catch (RuntimeException e) {
                open = -1;
            }
        }
        stats = new SchedulerStats(steps, maxBatch, maxDecodeBatch, tokensGenerated, completed, cancelled, failed,
                rejectedBusy, running.size(), waitingCount(), open, kv, reservedTokens, preemptions);
    }

    // ---- lifecycle ----

    /**
     * Runs after the web server's graceful shutdown (bean destruction follows the lifecycle stop),
     * so in-flight generations may finish first; whatever is left then fails with a clear error.
     */
    @Override
    public void destroy() {
        stop();
    }

    public void stop() {
        stopping = true;
        wakeUp();
        Thread t = loop;
        if (t != null) {
            try {
                t.join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

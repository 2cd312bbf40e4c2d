package qwenchat.serving;

import java.util.ArrayDeque;
import qwenchat.generation.GenerationRequest;
import qwenchat.generation.FinishReason;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
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
import qwenchat.engine.KvCacheFullException;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.generation.Priority;
import qwenchat.serving.GenerationException.Code;

/**
 * Continuous batching on one loop thread, in three parts. Each iteration it drops cancelled and
 * timed-out sequences, then:
 * <ol>
 * <li><b>plans</b> the step with {@link StepPlanner}: one decode for every running stream, prefill
 *     chunks within the token budget, preemptions when the KV pool runs short, admissions;</li>
 * <li><b>executes</b> it: preempts and admits as planned (a newcomer starts on the cached blocks of
 *     its prefix), then makes one {@link InferenceEngine#step} call;</li>
 * <li><b>processes the output</b> with {@link OutputProcessor}: tokens to trackers and listeners,
 *     usage and outcomes of finished sequences.</li>
 * </ol>
 * A preempted sequence waits at the head of the queue and is recomputed (prompt plus the tokens it
 * had generated, much of it found in the prefix cache), so its client sees the stream go on where it
 * paused.
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
    private long preemptions;
    private volatile long rejectedBusy;
    private long reservedTokens;
    private long prefixQueries;
    private long prefixHits;
    private final StepPlanner planner;
    private volatile OutputProcessor output;

    public BatchScheduler(QwenProperties properties, ModelRuntime runtime, ApplicationEventPublisher events) {
        this.properties = properties;
        this.runtime = runtime;
        this.events = events;
        this.planner = new StepPlanner(properties.scheduler().maxBatchedTokens(), properties.prefixCaching(),
                properties.scheduler().attentionBreakEvenSetting());
    }

    /** Starts serving {@code loaded}; called by the loader just before the model is declared READY. */
    void attach(LoadedModel loaded) {
        if (model != null) throw new IllegalStateException("a model is already attached");
        output = new OutputProcessor(loaded.served(), new HashSet<>(loaded.served().generationDefaults().eosTokenIds()),
                observers);
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
                s.reservedTokens(), s.preemptions(), s.prefixCacheQueries(), s.prefixCacheHits());
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
        if (r.lab() != null && r.lab().ablated().layers() != served.config().numHiddenLayers()) {
            throw new GenerationException(Code.INVALID_REQUEST, "the bias mask covers " + r.lab().ablated().layers()
                    + " layers but the model has " + served.config().numHiddenLayers());
        }
        String tooLong = KvAdmission.neverFits(r.promptIds().length, r.maxNewTokens(), kv, served.contextLength());
        if (tooLong != null) throw new GenerationException(Code.CONTEXT_OVERFLOW, tooLong);
    }

    private int retryAfterSeconds() {
        // Roughly how long until the queue ahead drains through the slots.
        double rounds = (double) (waiting.size() + 1) / properties.kvMaxSequences();
        OutputProcessor o = output;
        double meanServiceMillis = o == null ? 1000 : o.meanServiceMillis();
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
                awaitWorkAndDropExpired();
                heartbeat.beat();
                if (stopping) break;
                StepPlan plan = planner.plan(running, waitingHead(), model.engine());
                heartbeat.working(!running.isEmpty() || !plan.admit().isEmpty());
                List<StepPlan.Work> work = carryOut(plan);
                if (!work.isEmpty()) step(work);
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

    /** Waits until there is something to do, then drops cancelled and timed-out sequences. */
    private void awaitWorkAndDropExpired() throws InterruptedException {
        List<ScheduledSequence> dropped = new ArrayList<>();
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
        for (ScheduledSequence s : dropped) output.complete(s, dropReason(s), "");
        long now = System.nanoTime();
        for (Iterator<ScheduledSequence> it = running.iterator(); it.hasNext(); ) {
            ScheduledSequence s = it.next();
            if (s.cancelRequested() || now - s.deadlineNanos > 0) {
                it.remove();
                release(s);
                output.complete(s, dropReason(s), "");
            }
        }
    }

    private static FinishReason dropReason(ScheduledSequence s) {
        return s.cancelRequested() ? FinishReason.CANCELLED : FinishReason.TIMEOUT;
    }

    /** The head of the queue, as many as could be admitted now; only the loop removes from it. */
    private List<ScheduledSequence> waitingHead() {
        int slots = model.engine().capacity().maxSequences() - running.size();
        List<ScheduledSequence> head = new ArrayList<>();
        lock.lock();
        try {
            // Interactive requests first: a background one must not hold a place they could take.
            for (ScheduledSequence s : waiting) {
                if (head.size() >= slots) break;
                if (s.request.priority() == Priority.INTERACTIVE) head.add(s);
            }
            for (ScheduledSequence s : waiting) {
                if (head.size() >= slots) break;
                if (s.request.priority() != Priority.INTERACTIVE) head.add(s);
            }
        } finally {
            lock.unlock();
        }
        return head;
    }

    /** Preempts and admits as planned; returns the work of the sequences still in the step. */
    private List<StepPlan.Work> carryOut(StepPlan plan) {
        for (ScheduledSequence s : plan.preempt()) preempt(s);
        InferenceEngine engine = model.engine();
        for (StepPlan.Admission a : plan.admit()) {
            ScheduledSequence s = a.sequence();
            lock.lock();
            try {
                // Interactive requests are admitted ahead of background ones queued before them.
                if (!waiting.remove(s)) throw new IllegalStateException("the queue changed under the plan");
            } finally {
                lock.unlock();
            }
            admit(s, a.reuseCache(), engine);
        }
        List<StepPlan.Work> work = new ArrayList<>();
        for (StepPlan.Work w : plan.work()) if (w.sequence().slot >= 0 && !w.sequence().isDone()) work.add(w);
        return work;
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
        output.preempted();
    }

    /** Opens the sequence on whatever prefix the cache holds of its feed. */
    private void admit(ScheduledSequence s, boolean reuseCache, InferenceEngine engine) {
        s.slot = engine.openSequence();
        slotsInUse++;
        reservedTokens += s.reservedTokens;
        if (reuseCache) {
            int[] feed = s.feedTokens();
            int cached = engine.reuseCachedPrefix(s.slot, feed, s.request.promptIds().length);
            prefixQueries += feed.length;
            prefixHits += cached;
            if (s.tracker == null) s.cachedPromptTokens = Math.min(cached, s.request.promptIds().length);
            output.prefixLookup(feed.length, cached);
        }
        if (s.tracker != null) {
            // Back from a preemption: its client has seen the start and its tokens so far. It takes
            // its place by arrival again, so it is not the first to give way the next time.
            int at = running.size();
            while (at > 0 && running.get(at - 1).submitNanos > s.submitNanos) at--;
            running.add(at, s);
            return;
        }
        running.add(s);
        if (!output.start(s)) {
            running.remove(s);
            release(s);
        }
    }

    /** The engine's part of a sequence's planned work (its grammar's mask comes after, in {@link #mask}). */
    private StepRequest request(StepPlan.Work w, InferenceEngine engine) {
        StepRequest step = unconstrained(w, engine);
        if (w.sequence().request.lab() != null) step = step.withLab(w.sequence().request.lab());
        return step;
    }

    /** Whether the step's pick for this work is restricted by its sequence's grammar. */
    private static boolean constrained(StepPlan.Work w, StepRequest step) {
        return w.sequence().request.constraint() != null && step.sample();
    }

    private StepRequest masked(StepPlan.Work w, StepRequest step) {
        return step.restrictedTo(w.sequence().request.constraint().allowed(tokensLeft(w.sequence())));
    }

    /**
     * Restricts the next token of the step's constrained rows to what each sequence's grammar allows.
     * The grammar has seen exactly the tokens picked so far, so after a preemption the recompute's
     * pick is masked as the lost decode's would have been; chunks that pick nothing get no mask
     * (computing one costs a grammar walk). A grammar state met for the first time costs a walk
     * over the vocabulary (milliseconds), so several such rows are masked in parallel: each row has
     * its own constraint, and the grammars they share are thread-safe.
     */
    private void mask(List<StepPlan.Work> work, List<StepRequest> requests) {
        int count = 0;
        for (int i = 0; i < work.size(); i++) if (constrained(work.get(i), requests.get(i))) count++;
        if (count == 0) return; // every step of an unconstrained load: no allocation
        int[] rows = new int[count];
        for (int i = 0, j = 0; i < work.size(); i++) if (constrained(work.get(i), requests.get(i))) rows[j++] = i;
        if (count == 1) {
            requests.set(rows[0], masked(work.get(rows[0]), requests.get(rows[0])));
            return;
        }
        StepRequest[] out = new StepRequest[count];
        java.util.stream.IntStream.range(0, count).parallel()
                .forEach(j -> out[j] = masked(work.get(rows[j]), requests.get(rows[j])));
        for (int j = 0; j < count; j++) requests.set(rows[j], out[j]);
    }

    /** The engine's part of a sequence's planned work, cut from its feed at what its KV holds now. */
    private static StepRequest unconstrained(StepPlan.Work w, InferenceEngine engine) {
        ScheduledSequence s = w.sequence();
        GenerationRequest r = s.request;
        if (w.decode()) return StepRequest.decode(s.slot, s.lastToken, r.sampling(), r.topLogprobs());
        int from = engine.sequenceLength(s.slot);
        int feed = s.feedLength();
        int to = Math.min(feed, from + w.tokens());
        if (from == 0 && to == feed) {
            return s.generatedCount() == 0
                    ? StepRequest.prefill(s.slot, r.promptIds(), r.sampling(), r.topLogprobs())
                    : StepRequest.recompute(s.slot, s.feedTokens(), s.generatedCount(), r.sampling(), r.topLogprobs());
        }
        int[] chunk = java.util.Arrays.copyOfRange(s.feedTokens(), from, to);
        int prompt = r.promptIds().length;
        int generatedInChunk = Math.max(0, to - Math.max(from, prompt));
        return StepRequest.chunk(s.slot, chunk, generatedInChunk, to == feed, r.sampling(), r.topLogprobs());
    }

    private void step(List<StepPlan.Work> work) {
        InferenceEngine engine = model.engine();
        List<ScheduledSequence> batch = new ArrayList<>(work.size());
        List<StepRequest> requests = new ArrayList<>(work.size());
        int decodes = 0;
        int prefillTokens = 0;
        for (StepPlan.Work w : work) {
            batch.add(w.sequence());
            StepRequest r = request(w, engine);
            requests.add(r);
            if (r.prefill()) prefillTokens += r.tokens().length;
            else decodes++;
        }
        mask(work, requests);
        List<SampledToken> results;
        long stepStart = System.nanoTime();
        heartbeat.stepStarted();
        try {
            results = engine.step(requests);
        } catch (KvCacheFullException e) {
            heartbeat.stepEnded();
            if (running.size() > 1) {
                // The engine took nothing; make room as the planner would have, and go again.
                log.debug("engine step found the KV pool short; preempting: {}", e.getMessage());
                preempt(running.get(running.size() - 1));
                return;
            }
            ScheduledSequence s = batch.get(0);
            running.remove(s);
            release(s);
            output.fail(s, new GenerationException(Code.ENGINE_FAILURE, "the KV cache cannot hold this request: "
                    + e.getMessage(), null, e));
            return;
        } catch (RuntimeException e) {
            heartbeat.stepEnded();
            // The engine rejected this step; its sequences cannot continue, but others may come.
            log.error("engine step with {} sequences failed", batch.size(), e);
            for (ScheduledSequence s : batch) {
                running.remove(s);
                release(s);
                output.fail(s, new GenerationException(Code.ENGINE_FAILURE, "the engine failed during generation", null, e));
            }
            return;
        }
        heartbeat.stepEnded();
        output.stepRan(prefillTokens, decodes, System.nanoTime() - stepStart);
        steps++;
        maxBatch = Math.max(maxBatch, batch.size());
        maxDecodeBatch = Math.max(maxDecodeBatch, decodes);
        long now = System.nanoTime();
        for (int i = 0; i < batch.size(); i++) {
            ScheduledSequence s = batch.get(i);
            if (!requests.get(i).sample()) continue; // a chunk of a prefill that goes on next step
            FinishReason reason = output.token(s, results.get(i), engine.sequenceLength(s.slot), now);
            if (reason != null) {
                running.remove(s);
                release(s);
            }
        }
    }

    /** Tokens this sequence may still generate, the next one included, by both its limit and the context. */
    private int tokensLeft(ScheduledSequence s) {
        int sampled = s.tracker.sampledCount();
        int byLimit = s.request.maxNewTokens() - sampled;
        int byContext = model.served().contextLength() - s.request.promptIds().length - sampled;
        return Math.max(1, Math.min(byLimit, byContext));
    }

    private void release(ScheduledSequence s) {
        if (s.slot >= 0) {
            model.engine().freeSequence(s.slot);
            s.slot = -1;
            slotsInUse--;
            reservedTokens -= s.reservedTokens;
        }
    }

    private void failEverything(GenerationException e) {
        for (ScheduledSequence s : running) {
            try {
                release(s);
            } catch (RuntimeException ignored) {
                // The engine may be what broke; the sequence fails either way.
            }
            output.fail(s, e);
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
        for (ScheduledSequence s : queued) output.fail(s, e);
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
        OutputProcessor o = output;
        stats = o == null ? SchedulerStats.EMPTY : new SchedulerStats(steps, maxBatch, maxDecodeBatch,
                o.tokensGenerated, o.completed, o.cancelled, o.failed, rejectedBusy, running.size(), waitingCount(), open,
                kv, reservedTokens, preemptions, prefixQueries, prefixHits);
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

package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;
import qwenchat.generation.GenerationRequest;
import qwenchat.generation.FinishReason;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.serving.GenerationException.Code;

/** Continuous batching on the demo model: the same text alone and batched, stops, limits, cancellation. */
class BatchSchedulerTest {

    static DemoServing demo;

    @BeforeAll
    static void load() throws Exception {
        demo = new DemoServing(8, 16, Duration.ofMinutes(2));
    }

    @AfterAll
    static void close() {
        if (demo != null) demo.close();
    }

    static GenerationRequest greedy(String id, int[] prompt, int maxTokens, List<String> stop) {
        return new GenerationRequest(id, prompt, maxTokens, SamplingParams.greedyDecoding(), stop, 0);
    }

    static SamplingParams sampled(long seed) {
        return new SamplingParams(1.0, 0, 0.95, 0, 1.0, 0, 0, seed);
    }

    @Test
    void greedyTextIsTheSameAloneAndUnderConcurrentLoad() throws Exception {
        int[] prompt = demo.prompt("Tell me a story about batching.");
        Collector alone = new Collector();
        demo.scheduler.submit(greedy("alone", prompt, 24, List.of()), alone);
        Collector.Outcome reference = alone.await();
        assertThat(reference.reason()).isEqualTo(FinishReason.LENGTH);
        assertThat(reference.ids()).hasSize(24);

        List<Collector> many = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            Collector c = new Collector();
            // Different prompts in between make the batch mixed, not six copies of one row.
            Collector other = new Collector();
            demo.scheduler.submit(greedy("other" + i, demo.prompt("Other question number " + i), 10 + i, List.of()), other);
            demo.scheduler.submit(greedy("same" + i, prompt, 24, List.of()), c);
            many.add(c);
        }
        for (Collector c : many) {
            Collector.Outcome o = c.await();
            assertThat(o.ids()).isEqualTo(reference.ids());
            assertThat(o.text()).isEqualTo(reference.text());
            assertThat(o.usage().promptTokens()).isEqualTo(prompt.length);
            assertThat(o.usage().completionTokens()).isEqualTo(24);
        }
        assertThat(demo.scheduler.stats().maxDecodeBatch()).isGreaterThanOrEqualTo(6);
        awaitIdle();
    }

    @Test
    void sameSeedRepeatsAndSeedsMatter() throws Exception {
        int[] prompt = demo.prompt("Pick random words.");
        List<List<Integer>> runs = new ArrayList<>();
        for (long seed : new long[] {7, 7, 8, 9}) {
            Collector c = new Collector();
            demo.scheduler.submit(new GenerationRequest("s" + seed, prompt, 16, sampled(seed), List.of(), 0), c);
            runs.add(c.await().ids());
        }
        assertThat(runs.get(1)).isEqualTo(runs.get(0));
        assertThat(List.of(runs.get(2), runs.get(3))).anySatisfy(r -> assertThat(r).isNotEqualTo(runs.get(0)));
    }

    @Test
    void stopStringEndsGenerationWithoutLeakingAnyOfIt() throws Exception {
        int[] prompt = demo.prompt("Say something long.");
        Collector free = new Collector();
        demo.scheduler.submit(greedy("free", prompt, 40, List.of()), free);
        String full = free.await().text();
        assertThat(full.length()).isGreaterThan(12);
        // A stop string taken from the middle of the unconstrained text, so we know where it must cut.
        String stop = full.substring(full.length() / 2, full.length() / 2 + 3);
        int cut = full.indexOf(stop);

        Collector stopped = new Collector();
        demo.scheduler.submit(greedy("stopped", prompt, 40, List.of(stop)), stopped);
        Collector.Outcome o = stopped.await();
        assertThat(o.reason()).isEqualTo(FinishReason.STOP);
        assertThat(o.text()).isEqualTo(full.substring(0, cut));
        for (GeneratedToken t : stopped.tokens) assertThat(t.text()).doesNotContain(stop);
        assertThat(o.usage().completionTokens()).isLessThan(40);
    }

    @Test
    void requestThatCanNeverFitIsRejectedBeforeAnyWork() {
        int[] prompt = demo.prompt("hi");
        int context = demo.served().contextLength();
        long stepsBefore = demo.scheduler.stats().steps();
        Collector c = new Collector();
        assertThatThrownBy(() -> demo.scheduler.submit(greedy("big", prompt, context - prompt.length + 1, List.of()), c))
                .isInstanceOfSatisfying(GenerationException.class, e -> {
                    assertThat(e.code()).isEqualTo(Code.CONTEXT_OVERFLOW);
                    assertThat(e.getMessage()).contains(prompt.length + " tokens")
                            .contains("max tokens is " + (context - prompt.length + 1))
                            .contains("context size of " + context);
                });
        assertThat(c.started).isFalse();
        assertThat(demo.scheduler.stats().steps()).isEqualTo(stepsBefore);
    }

    @Test
    void cancellingRunningAndQueuedSequencesFreesTheirSlots() throws Exception {
        int[] prompt = demo.prompt("Count forever.");
        List<Collector> cs = new ArrayList<>();
        List<GenerationHandle> hs = new ArrayList<>();
        // More than the 8 slots, so some are still queued when cancelled.
        for (int i = 0; i < 12; i++) {
            Collector c = new Collector();
            hs.add(demo.scheduler.submit(greedy("c" + i, prompt, 2000, List.of()), c));
            cs.add(c);
        }
        cs.get(0).firstToken.get(60, java.util.concurrent.TimeUnit.SECONDS);
        long t0 = System.nanoTime();
        hs.forEach(GenerationHandle::cancel);
        for (Collector c : cs) assertThat(c.await().reason()).isEqualTo(FinishReason.CANCELLED);
        awaitIdle();
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(2.0);
        assertThat(hs).allSatisfy(h -> assertThat(h.isDone()).isTrue());
    }

    @Test
    void fullQueueRefusesAtOnceWithRetryAfter() throws Exception {
        try (DemoServing small = new DemoServing(1, 1, Duration.ofMinutes(1))) {
            int[] prompt = small.prompt("busy");
            Collector running = new Collector();
            GenerationHandle a = small.scheduler.submit(greedy("a", prompt, 2000, List.of()), running);
            running.firstToken.get(60, java.util.concurrent.TimeUnit.SECONDS);
            Collector queued = new Collector();
            GenerationHandle b = small.scheduler.submit(greedy("b", prompt, 5, List.of()), queued);
            assertThatThrownBy(() -> small.scheduler.submit(greedy("c", prompt, 5, List.of()), new Collector()))
                    .isInstanceOfSatisfying(GenerationException.class, e -> {
                        assertThat(e.code()).isEqualTo(Code.BUSY);
                        assertThat(e.retryAfterSeconds()).isPositive();
                    });
            assertThat(small.scheduler.stats().rejectedBusy()).isEqualTo(1);
            a.cancel();
            assertThat(running.await().reason()).isEqualTo(FinishReason.CANCELLED);
            // The queued one then runs to completion.
            assertThat(queued.await().reason()).isEqualTo(FinishReason.LENGTH);
            assertThat(b.isDone()).isTrue();
        }
    }

    @Test
    void requestTimeoutEndsWithReasonTimeoutAndFrees() throws Exception {
        try (DemoServing quick = new DemoServing(2, 4, Duration.ofMillis(300))) {
            Collector c = new Collector();
            quick.scheduler.submit(greedy("slow", quick.prompt("go on"), 3000, List.of()), c);
            Collector.Outcome o = c.await();
            assertThat(o.reason()).isEqualTo(FinishReason.TIMEOUT);
            assertThat(o.usage().totalMillis()).isBetween(300L, 5000L);
            long end = System.nanoTime() + 2_000_000_000L;
            while (quick.scheduler.stats().openSequences() != 0 && System.nanoTime() < end) Thread.sleep(10);
            assertThat(quick.scheduler.stats().openSequences()).isZero();
        }
    }

    private static void awaitIdle() throws InterruptedException {
        long end = System.nanoTime() + 2_000_000_000L;
        while (System.nanoTime() < end) {
            SchedulerStats s = demo.scheduler.stats();
            if (s.openSequences() == 0 && s.running() == 0 && s.waiting() == 0 && s.reservedTokens() == 0) return;
            Thread.sleep(10);
        }
        SchedulerStats s = demo.scheduler.stats();
        assertThat(s.openSequences()).as("open sequences").isZero();
        assertThat(s.kvCacheBytes()).as("KV bytes").isZero();
        assertThat(s.reservedTokens()).as("reserved tokens").isZero();
    }
}

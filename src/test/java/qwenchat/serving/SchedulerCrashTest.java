package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;
import qwenchat.generation.GenerationRequest;
import qwenchat.generation.FinishReason;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.LivenessState;
import qwenchat.engine.EngineInfo;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvBlockUsage;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.serving.GenerationException.Code;

/**
 * Engine failures: a step that throws fails only its sequences and serving goes on; an error that
 * kills the loop (here a VirtualMachineError) turns liveness BROKEN and fails everything in flight.
 */
class SchedulerCrashTest {

    @Test
    void failingStepFailsItsSequencesAndServingContinues() throws Exception {
        AtomicBoolean fail = new AtomicBoolean();
        try (DemoServing demo = new DemoServing(4, 4, Duration.ofMinutes(1),
                e -> new Breakable(e, fail, () -> new IllegalStateException("simulated engine failure")))) {
            fail.set(true);
            Collector broken = new Collector();
            demo.scheduler.submit(request(demo, 4), broken);
            Collector.Outcome o = broken.await();
            assertThat(o.error().code()).isEqualTo(Code.ENGINE_FAILURE);
            long end = System.nanoTime() + 2_000_000_000L;
            while (demo.scheduler.stats().failed() < 1 && System.nanoTime() < end) Thread.sleep(5);
            assertThat(demo.scheduler.stats().failed()).isEqualTo(1);
            assertThat(demo.scheduler.stats().openSequences()).isZero();
            fail.set(false);
            Collector fine = new Collector();
            demo.scheduler.submit(request(demo, 4), fine);
            assertThat(fine.await().reason()).isEqualTo(FinishReason.LENGTH);
            assertThat(demo.events).noneMatch(ev -> ev instanceof AvailabilityChangeEvent<?> a && a.getState() == LivenessState.BROKEN);
        }
    }

    @Test
    void crashedLoopTurnsLivenessBrokenAndFailsEverything() throws Exception {
        AtomicBoolean fail = new AtomicBoolean();
        try (DemoServing demo = new DemoServing(4, 4, Duration.ofMinutes(1),
                e -> new Breakable(e, fail, () -> new StackOverflowError("simulated fatal error")))) {
            Collector running = new Collector();
            demo.scheduler.submit(request(demo, 3000), running);
            running.firstToken.get(60, java.util.concurrent.TimeUnit.SECONDS);
            fail.set(true);
            Collector.Outcome o = running.await();
            assertThat(o.error()).isNotNull();
            assertThat(o.error().code()).isEqualTo(Code.ENGINE_FAILURE);
            long end = System.nanoTime() + 5_000_000_000L;
            while (demo.events.stream().noneMatch(SchedulerCrashTest::broken) && System.nanoTime() < end) Thread.sleep(10);
            assertThat(demo.events).anyMatch(SchedulerCrashTest::broken);
            assertThatThrownBy(() -> demo.scheduler.submit(request(demo, 3), new Collector()))
                    .isInstanceOfSatisfying(GenerationException.class, e -> assertThat(e.code()).isEqualTo(Code.ENGINE_FAILURE));
        }
    }

    private static boolean broken(Object ev) {
        return ev instanceof AvailabilityChangeEvent<?> a && a.getState() == LivenessState.BROKEN;
    }

    private static GenerationRequest request(DemoServing demo, int maxTokens) {
        return new GenerationRequest("r", demo.prompt("hello"), maxTokens, SamplingParams.greedyDecoding(), List.of(), 0);
    }

    /** Delegates to a real engine; its step throws what {@code failure} makes while {@code fail} is set. */
    private record Breakable(InferenceEngine e, AtomicBoolean fail, java.util.function.Supplier<Throwable> failure)
            implements InferenceEngine {
        @Override
        public List<SampledToken> step(List<StepRequest> requests) {
            if (fail.get()) {
                Throwable t = failure.get();
                if (t instanceof RuntimeException r) throw r;
                throw (Error) t;
            }
            return e.step(requests);
        }

        @Override public ModelConfig config() { return e.config(); }
        @Override public EngineInfo info() { return e.info(); }
        @Override public KvCacheCapacity capacity() { return e.capacity(); }
        @Override public KvBlockUsage kvUsage() { return e.kvUsage(); }
        @Override public int openSequence() { return e.openSequence(); }
        @Override public void freeSequence(int sequence) { e.freeSequence(sequence); }
        @Override public int sequenceLength(int sequence) { return e.sequenceLength(sequence); }
        @Override public int openSequenceCount() { return e.openSequenceCount(); }
        @Override public float[][] prefillLogits(int s, int[] t, boolean all) { return e.prefillLogits(s, t, all); }
        @Override public float[][] decodeLogits(int[] s, int[] t) { return e.decodeLogits(s, t); }
        @Override public void close() { e.close(); }
    }
}

package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;
import qwenchat.generation.GenerationRequest;
import qwenchat.generation.GenerationUsage;
import qwenchat.generation.FinishReason;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.sampling.SamplingParams;

/** Output processing alone: tokens to listeners, finishes, usage and outcomes, without a loop. */
class OutputProcessorTest {

    static DemoServing demo;

    @BeforeAll
    static void load() throws Exception {
        demo = new DemoServing(2, 4, Duration.ofMinutes(1));
    }

    @AfterAll
    static void close() {
        if (demo != null) demo.close();
    }

    private static ScheduledSequence sequence(int maxTokens, GenerationListener listener) {
        GenerationRequest r = new GenerationRequest("out", new int[] {1, 2, 3}, maxTokens,
                SamplingParams.greedyDecoding(), List.of(), 0);
        return new ScheduledSequence(r, listener, System.nanoTime(), Long.MAX_VALUE, 3 + maxTokens, () -> { });
    }

    private static SampledToken token(int id) {
        return new SampledToken(0, id, -0.5f, new int[0], new float[0]);
    }

    @Test
    void tokensReachTheListenerAndTheLastOneFinishesWithUsageCountingCachedPromptTokens() throws Exception {
        List<RequestOutcome> outcomes = new ArrayList<>();
        OutputProcessor out = new OutputProcessor(demo.served(), Set.of(), List.of(new SchedulerObserver() {
            @Override
            public void onFinished(RequestOutcome o) {
                outcomes.add(o);
            }
        }));
        Collector c = new Collector();
        ScheduledSequence s = sequence(2, c);
        assertThat(out.start(s)).isTrue();
        s.cachedPromptTokens = 2;
        assertThat(out.token(s, token(100), 4, System.nanoTime())).isNull();
        assertThat(s.prefilled).as("decodes from now on").isTrue();
        assertThat(out.token(s, token(101), 5, System.nanoTime())).isEqualTo(FinishReason.LENGTH);

        Collector.Outcome o = c.await();
        assertThat(o.ids()).containsExactly(100, 101);
        assertThat(o.usage().promptTokens()).isEqualTo(3);
        assertThat(o.usage().completionTokens()).isEqualTo(2);
        assertThat(o.usage().cachedTokens()).isEqualTo(2);
        assertThat(outcomes).singleElement().satisfies(r -> assertThat(r.finishReason()).isEqualTo("length"));
        assertThat(out.completed).isEqualTo(1);
        assertThat(out.tokensGenerated).isEqualTo(2);
    }

    @Test
    void aListenerThatThrowsCancelsItsSequence() {
        OutputProcessor out = new OutputProcessor(demo.served(), Set.of(), List.of());
        ScheduledSequence s = sequence(8, new GenerationListener() {
            @Override
            public void onStart(int promptTokens) {
            }

            @Override
            public void onToken(GeneratedToken token) {
                throw new IllegalStateException("the socket is gone");
            }

            @Override
            public void onComplete(FinishReason reason, String tailText, GenerationUsage usage) {
            }

            @Override
            public void onError(GenerationException error) {
            }
        });
        out.start(s);
        assertThat(out.token(s, token(100), 4, System.nanoTime())).isEqualTo(FinishReason.CANCELLED);
        assertThat(s.isDone()).isTrue();
        assertThat(out.cancelled).isEqualTo(1);
    }
}

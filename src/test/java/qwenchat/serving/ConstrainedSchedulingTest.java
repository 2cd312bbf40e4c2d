package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;
import qwenchat.engine.StepRequest;
import qwenchat.engine.kv.KvCacheSizing;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.generation.GenerationRequest;
import qwenchat.grammar.TokenConstraint;

/**
 * Constrained decoding through chunked prefill and preemption on the demo model. The grammar here
 * allows one id after an even number of accepted tokens and another after an odd number, so a
 * grammar that moved on a chunk that picked nothing, or twice for a token recomputed after a
 * preemption, shows as two equal ids in a row.
 */
class ConstrainedSchedulingTest {

    static final int EVEN = 100;
    static final int ODD = 200;

    static DemoServing chunked;
    static RecordingEngine recorder;
    static DemoServing tinyPool;

    /** Alternates EVEN, ODD, EVEN…; records what it was told was picked. */
    static final class Alternating implements TokenConstraint {
        final List<Integer> accepted = Collections.synchronizedList(new ArrayList<>());

        @Override
        public BitSet allowed(int remaining) {
            BitSet b = new BitSet();
            b.set(accepted.size() % 2 == 0 ? EVEN : ODD);
            return b;
        }

        @Override
        public void accept(int token) {
            accepted.add(token);
        }
    }

    @BeforeAll
    static void load() throws Exception {
        int block = ChunkedPrefillAndPrefixCachingTest.BLOCK;
        chunked = new DemoServing(ChunkedPrefillAndPrefixCachingTest.properties(4, null)
                .withScheduling(ChunkedPrefillAndPrefixCachingTest.BUDGET, true), e -> recorder = new RecordingEngine(e));
        long perToken = KvCacheSizing.bytesPerToken(chunked.served().config(), Float.BYTES);
        tinyPool = new DemoServing(ChunkedPrefillAndPrefixCachingTest.properties(4,
                DataSize.ofBytes(12L * block * perToken)).withScheduling(2048, true), e -> e);
    }

    @AfterAll
    static void close() {
        for (DemoServing d : new DemoServing[] {chunked, tinyPool}) if (d != null) d.close();
    }

    static GenerationRequest constrained(String id, int[] prompt, int maxTokens, TokenConstraint c) {
        return new GenerationRequest(id, prompt, maxTokens, SamplingParams.greedyDecoding(), List.of(), 0, c);
    }

    static void assertAlternates(List<Integer> ids, int expected) {
        assertThat(ids).hasSize(expected);
        for (int i = 0; i < ids.size(); i++) assertThat(ids.get(i)).as("token %d", i).isEqualTo(i % 2 == 0 ? EVEN : ODD);
    }

    @Test
    void onlyTheSamplingChunkCarriesTheMaskAndTheGrammarMovesOnPickedTokensOnly() throws Exception {
        int[] prompt = ChunkedPrefillAndPrefixCachingTest.withSystem(chunked, "Which cakes do you have today?");
        Alternating grammar = new Alternating();
        int from = recorder.steps().size();
        Collector c = new Collector();
        chunked.scheduler.submit(constrained("chunked", prompt, 6, grammar), c);
        Collector.Outcome o = c.await();

        assertThat(o.error()).isNull();
        assertAlternates(o.ids(), 6);
        assertThat(grammar.accepted).isEqualTo(o.ids());
        List<StepRequest> steps = recorder.steps().subList(from, recorder.steps().size()).stream()
                .flatMap(List::stream).toList();
        assertThat(steps).as("non-final chunks").anyMatch(r -> !r.sample());
        for (StepRequest r : steps) {
            if (r.sample()) assertThat(r.allowed()).as("a step that picks").isNotNull();
            else assertThat(r.allowed()).as("a chunk that picks nothing").isNull();
        }
    }

    @Test
    void preemptedAndRecomputedRequestsKeepTheirGrammarInStep() throws Exception {
        String[] questions = {"Is the rye bread vegan?", "Can I order a birthday cake?", "Where are you?",
                "Do you deliver on Saturdays?"};
        long before = tinyPool.scheduler.stats().preemptions();
        for (int round = 0; round < 3; round++) {
            List<Collector> collectors = new ArrayList<>();
            List<Alternating> grammars = new ArrayList<>();
            for (int i = 0; i < questions.length; i++) {
                Alternating g = new Alternating();
                Collector c = new Collector();
                tinyPool.scheduler.submit(constrained("q" + i, ChunkedPrefillAndPrefixCachingTest.withSystem(tinyPool,
                        questions[i]), 24, g), c);
                grammars.add(g);
                collectors.add(c);
            }
            for (int i = 0; i < collectors.size(); i++) {
                Collector.Outcome o = collectors.get(i).await();
                assertThat(o.error()).as("round %d request %d", round, i).isNull();
                assertAlternates(o.ids(), 24);
                assertThat(grammars.get(i).accepted).as("round %d request %d", round, i).isEqualTo(o.ids());
            }
        }
        assertThat(tinyPool.scheduler.stats().preemptions() - before).as("preemptions").isPositive();
    }

    /** Allows one id only, always. */
    record Only(int id) implements TokenConstraint {
        @Override
        public BitSet allowed(int remaining) {
            BitSet b = new BitSet();
            b.set(id);
            return b;
        }

        @Override
        public void accept(int token) {
        }
    }

    @Test
    void rowsMaskedTogetherInOneStepEachGetTheirOwnGrammarsMask() throws Exception {
        int from = recorder.steps().size();
        List<Collector> collectors = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Collector c = new Collector();
            chunked.scheduler.submit(constrained("own" + i, ChunkedPrefillAndPrefixCachingTest.withSystem(chunked,
                    "Question number " + i + "?"), 8, new Only(300 + i)), c);
            collectors.add(c);
        }
        for (int i = 0; i < 4; i++) {
            Collector.Outcome o = collectors.get(i).await();
            assertThat(o.error()).isNull();
            assertThat(o.ids()).as("request %d", i).hasSize(8).containsOnly(300 + i);
        }
        assertThat(recorder.steps().subList(from, recorder.steps().size()))
                .as("some step masked several rows at once")
                .anyMatch(step -> step.stream().filter(r -> r.allowed() != null).count() >= 2);
    }
}

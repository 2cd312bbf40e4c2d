package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;
import qwenchat.generation.GenerationRequest;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;
import qwenchat.engine.StepRequest;
import qwenchat.engine.kv.KvCacheSizing;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.tokenizer.ChatMessage;

/**
 * The scheduler on the demo model with a tiny step budget and with prefix caching, against one
 * that prefills every prompt whole and caches nothing: the same tokens either way.
 */
class ChunkedPrefillAndPrefixCachingTest {

    static final int BLOCK = 16;
    static final int BUDGET = 8;
    static final String SYSTEM = "You are the support assistant of a small bakery. Answer briefly, politely and "
            + "only about bread, cakes, opening hours and orders; never invent prices.";

    static DemoServing reference;
    static DemoServing chunked;
    static RecordingEngine recorder;
    static DemoServing tinyPool;
    static DemoServing attentionCharged;
    static RecordingEngine chargedRecorder;

    static QwenProperties properties(int sequences, DataSize kvBytes) {
        return new QwenProperties(null, DemoServing.DEMO_DIR, "cpu", sequences, null, 16, Duration.ofMinutes(2), 2,
                List.of(), 1 << 20, 0.9, kvBytes, BLOCK, "none");
    }

    @BeforeAll
    static void load() throws Exception {
        reference = new DemoServing(properties(4, null).withScheduling(2048, false), e -> e);
        chunked = new DemoServing(properties(4, null).withScheduling(BUDGET, true), e -> recorder = new RecordingEngine(e));
        long perToken = KvCacheSizing.bytesPerToken(reference.served().config(), Float.BYTES);
        // Twelve blocks: two or three of the requests below at once, so some are preempted.
        tinyPool = new DemoServing(properties(4, DataSize.ofBytes(12L * BLOCK * perToken)).withScheduling(2048, true),
                e -> e);
        // A break-even of 8 tokens: within the demo's prompts a late chunk is much dearer than an early one.
        attentionCharged = new DemoServing(scheduling(properties(4, null), 16, 8), e -> chargedRecorder = new RecordingEngine(e));
    }

    /** {@code p} with a step budget and an attention break-even of its own, prefix caching off. */
    static QwenProperties scheduling(QwenProperties p, int budget, Integer attentionBreakEven) {
        return new QwenProperties(p.modelDir(), p.demoDir(), p.engine(), p.kvMaxSequences(), p.maxTokensPerSequence(),
                p.queueLimit(), p.requestTimeout(), p.cpuThreads(), p.apiKeys(), p.maxRequestBytes(),
                p.gpuMemoryUtilization(), p.kvCacheBytes(), p.kvBlockSize(), p.ropeScaling(),
                new QwenProperties.Scheduler(budget, attentionBreakEven), false, p.gpus(), p.batchInvariant());
    }

    @AfterAll
    static void close() {
        for (DemoServing d : new DemoServing[] {reference, chunked, tinyPool, attentionCharged}) if (d != null) d.close();
    }

    static GenerationRequest greedy(String id, int[] prompt, int maxTokens) {
        return new GenerationRequest(id, prompt, maxTokens, SamplingParams.greedyDecoding(), List.of(), 0);
    }

    static int[] withSystem(DemoServing d, String question) {
        return d.served().chatTemplate().render(List.of(new ChatMessage("system", SYSTEM),
                new ChatMessage("user", question)), true).ids();
    }

    static Collector.Outcome run(DemoServing d, GenerationRequest r) throws Exception {
        Collector c = new Collector();
        d.scheduler.submit(r, c);
        return c.await();
    }

    @Test
    void aLongPromptIsPrefilledOverSeveralStepsWhileAnotherStreamGetsATokenEveryStep() throws Exception {
        int[] shortPrompt = chunked.prompt("Hi");
        int[] longPrompt = withSystem(chunked, "Could you tell me everything about your sourdough and rye?");
        Collector stream = new Collector();
        chunked.scheduler.submit(greedy("stream", shortPrompt, 60), stream);
        stream.firstToken.get(60, java.util.concurrent.TimeUnit.SECONDS);
        int from = recorder.steps().size();
        Collector.Outcome longOne = run(chunked, greedy("long", longPrompt, 8));
        Collector.Outcome streamed = stream.await();

        List<List<StepRequest>> steps = recorder.steps().subList(from, recorder.steps().size());
        List<List<StepRequest>> chunkSteps = steps.stream()
                .filter(s -> s.stream().anyMatch(r -> r.prefill() && !r.sample())).toList();
        assertThat(chunkSteps).as("steps with a non-final chunk").hasSizeGreaterThanOrEqualTo(longPrompt.length / BUDGET - 1);
        for (List<StepRequest> step : steps) {
            assertThat(step.stream().mapToInt(r -> r.tokens().length).sum()).isLessThanOrEqualTo(BUDGET);
        }
        for (List<StepRequest> step : chunkSteps) {
            assertThat(step).as("the stream decodes in every chunk step").anyMatch(r -> !r.prefill());
        }
        assertThat(longOne.ids()).isEqualTo(run(reference, greedy("long", longPrompt, 8)).ids());
        assertThat(streamed.ids()).isEqualTo(run(reference, greedy("stream", shortPrompt, 60)).ids());
    }

    @Test
    void whileAStreamDecodesLaterChunksAreSmallerAsChargedForTheirAttentionAndTheAnswerIsTheSame() throws Exception {
        int[] prompt = withSystem(attentionCharged, "Could you tell me everything about your sourdough and rye?");
        Collector stream = new Collector();
        attentionCharged.scheduler.submit(greedy("stream", attentionCharged.prompt("Hi"), 200), stream);
        stream.firstToken.get(60, java.util.concurrent.TimeUnit.SECONDS);
        int from = chargedRecorder.steps().size();
        Collector.Outcome charged = run(attentionCharged, greedy("charged", prompt, 8));
        stream.await();

        // Each chunk against the rule: charged for its attention when the step decodes (the budget of
        // 16 less the decodes), the whole budget in tokens when nothing else runs.
        ChunkCost cost = new ChunkCost(8);
        int held = 0;
        List<Integer> chargedChunks = new ArrayList<>();
        for (List<StepRequest> step : chargedRecorder.steps().subList(from, chargedRecorder.steps().size())) {
            int decodes = (int) step.stream().filter(r -> !r.prefill()).count();
            for (StepRequest r : step) {
                if (!r.prefill() || held == prompt.length) continue;
                int n = r.tokens().length;
                int remaining = prompt.length - held;
                int want = decodes == 0 ? Math.min(remaining, 16) : cost.largestChunk(held, remaining, 16 - decodes);
                assertThat(n).as("chunk after %d tokens beside %d decodes", held, decodes).isEqualTo(want);
                if (decodes > 0) chargedChunks.add(n);
                held += n;
            }
        }
        assertThat(held).isEqualTo(prompt.length);
        // The first 9 tokens beside the decode cost 9 + 9 * 8 / 16 = 13.5, so 14; 10 would cost 16 > 15.
        assertThat(chargedChunks).as("chunks beside the stream").hasSizeGreaterThanOrEqualTo(3).startsWith(9);
        assertThat(chargedChunks).as("never larger than the chunk before").isSortedAccordingTo((a, b) -> b - a);
        assertThat(chargedChunks.getLast()).isLessThan(chargedChunks.getFirst());
        assertThat(charged.ids()).isEqualTo(run(reference, greedy("charged", prompt, 8)).ids());
    }

    @Test
    void theNextRequestWithTheSameSystemPromptPrefillsOnlyItsNewTokensAndAnswersTheSame() throws Exception {
        int[] first = withSystem(chunked, "When do you open on Sundays?");
        int[] second = withSystem(chunked, "Do you bake gluten-free bread?");
        Collector.Outcome a = run(chunked, greedy("first", first, 12));
        SchedulerStats before = chunked.scheduler.stats();
        int prefilledBefore = prefilled();
        Collector.Outcome b = run(chunked, greedy("second", second, 12));

        int shared = 0;
        while (first[shared] == second[shared]) shared++;
        int cached = b.usage().cachedTokens();
        assertThat(cached).as("cached tokens").isEqualTo(shared / BLOCK * BLOCK).isPositive();
        assertThat(prefilled() - prefilledBefore).as("prompt tokens computed").isEqualTo(second.length - cached);
        assertThat(chunked.scheduler.stats().prefixCacheHits() - before.prefixCacheHits()).isEqualTo(cached);
        assertThat(chunked.scheduler.stats().prefixCacheQueries() - before.prefixCacheQueries()).isEqualTo(second.length);
        assertThat(a.ids()).isEqualTo(run(reference, greedy("first", first, 12)).ids());
        assertThat(b.ids()).isEqualTo(run(reference, greedy("second", second, 12)).ids());
        assertThat(run(reference, greedy("uncached", second, 12)).usage().cachedTokens()).isZero();
    }

    private static int prefilled() {
        return recorder.steps().stream().flatMap(List::stream).filter(StepRequest::prefill)
                .mapToInt(r -> r.tokens().length).sum();
    }

    @Test
    void cachedRunsAnswerAsUncachedOnesThroughPreemptionAndEviction() throws Exception {
        String[] questions = {"Is the rye bread vegan?", "Can I order a birthday cake?", "Where are you?",
                "Do you deliver on Saturdays?"};
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < questions.length; i++) requests.add(greedy("q" + i, withSystem(tinyPool, questions[i]), 24));
        // Each request fills about five blocks of the twelve, so running three rounds of four both
        // preempts and reclaims cached blocks of earlier requests for later ones.
        List<List<Integer>> expected = new ArrayList<>();
        for (GenerationRequest r : requests) expected.add(run(reference, r).ids());
        for (int round = 0; round < 3; round++) {
            List<Collector> together = new ArrayList<>();
            for (GenerationRequest r : requests) {
                Collector c = new Collector();
                tinyPool.scheduler.submit(r, c);
                together.add(c);
            }
            for (int i = 0; i < together.size(); i++) {
                Collector.Outcome o = together.get(i).await();
                assertThat(o.error()).as("round %d request %d", round, i).isNull();
                assertThat(o.ids()).as("round %d request %d", round, i).isEqualTo(expected.get(i));
            }
        }
        SchedulerStats s = tinyPool.scheduler.stats();
        assertThat(s.preemptions()).as("preemptions").isPositive();
        assertThat(s.prefixCacheHits()).as("prefix cache hits").isPositive();
    }

    @Test
    void aPromptWhoseCachedBlocksWereReclaimedIsComputedAgainAndAnswersTheSame() throws Exception {
        GenerationRequest q = greedy("evicted", withSystem(tinyPool, "What bread goes with soup?"), 8);
        List<Integer> expected = run(reference, q).ids();
        assertThat(run(tinyPool, q).ids()).isEqualTo(expected);
        Collector.Outcome cached = run(tinyPool, q);
        assertThat(cached.usage().cachedTokens()).as("cached while nothing else ran").isPositive();
        assertThat(cached.ids()).isEqualTo(expected);

        // A request that fills the whole pool takes every block, the cached ones last.
        int[] big = tinyPool.prompt("Bread, flour, water and salt. ".repeat(40));
        int poolTokens = 12 * BLOCK;
        big = java.util.Arrays.copyOf(big, Math.min(big.length, poolTokens - 8));
        assertThat(big.length).as("a prompt of most of the pool").isGreaterThan(poolTokens / 2);
        assertThat(run(tinyPool, greedy("big", big, poolTokens - big.length)).error()).isNull();

        Collector.Outcome again = run(tinyPool, q);
        assertThat(again.usage().cachedTokens()).as("its blocks were reclaimed").isZero();
        assertThat(again.ids()).isEqualTo(expected);
    }
}

package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;
import qwenchat.generation.GenerationRequest;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;
import qwenchat.demo.DemoCheckpoint;
import qwenchat.engine.kv.KvCacheSizing;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.serving.GenerationException.Code;

/**
 * The demo model on a KV pool far too small for its concurrent requests: sequences are preempted
 * and recomputed, and every client still receives exactly the text an unhurried run produces.
 */
class PreemptionTest {

    static final int BLOCK = 4;
    static final int MAX_TOKENS = 32;
    static final String[] QUESTIONS = {"Tell me a story about batching.", "Why is the sky blue?",
            "List some prime numbers.", "What is a KV cache?"};

    static DemoServing demo;
    static int poolTokens;

    @BeforeAll
    static void load() throws Exception {
        ModelConfig c = DemoCheckpoint.ensure(Path.of(DemoServing.DEMO_DIR)).config();
        // Room for two of the four requests at full length: the others must wait or be preempted.
        poolTokens = 2 * (40 + MAX_TOKENS);
        long bytes = (long) poolTokens * KvCacheSizing.bytesPerToken(c, Float.BYTES);
        poolTokens = (int) (bytes / KvCacheSizing.bytesPerToken(c, Float.BYTES) / BLOCK * BLOCK);
        QwenProperties p = new QwenProperties(null, DemoServing.DEMO_DIR, "cpu", 8, null, 16, Duration.ofMinutes(2), 2,
                List.of(), 1 << 20, 0.9, DataSize.ofBytes(bytes), BLOCK, "none");
        demo = new DemoServing(p, UnaryOperator.identity());
    }

    @AfterAll
    static void close() {
        if (demo != null) demo.close();
    }

    private static GenerationRequest request(String id, int[] prompt, SamplingParams sampling) {
        return new GenerationRequest(id, prompt, MAX_TOKENS, sampling, List.of(), 0);
    }

    private static SamplingParams penalisedSampling() {
        return new SamplingParams(0.9, 40, 0.95, 0, 1.1, 0.3, 0.5, 1234);
    }

    @Test
    void preemptedRequestsStreamExactlyWhatAnUnpreemptedRunStreams() throws Exception {
        assertThat(poolTokens).as("the pool must be too small for four requests at once")
                .isLessThan(QUESTIONS.length * (demo.prompt(QUESTIONS[0]).length + MAX_TOKENS));
        List<int[]> prompts = new ArrayList<>();
        for (String q : QUESTIONS) prompts.add(demo.prompt(q));
        List<Collector.Outcome> alone = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            Collector c = new Collector();
            SamplingParams sp = i == 0 ? penalisedSampling() : SamplingParams.greedyDecoding();
            demo.scheduler.submit(request("alone" + i, prompts.get(i), sp), c);
            alone.add(c.await());
        }
        long preemptionsBefore = demo.scheduler.stats().preemptions();

        List<Collector> together = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            Collector c = new Collector();
            SamplingParams sp = i == 0 ? penalisedSampling() : SamplingParams.greedyDecoding();
            demo.scheduler.submit(request("together" + i, prompts.get(i), sp), c);
            together.add(c);
        }
        for (int i = 0; i < together.size(); i++) {
            Collector.Outcome o = together.get(i).await();
            assertThat(o.error()).as("request %d failed", i).isNull();
            assertThat(o.ids()).as("token ids of request %d", i).isEqualTo(alone.get(i).ids());
            assertThat(o.text()).as("text of request %d", i).isEqualTo(alone.get(i).text());
            assertThat(o.usage().completionTokens()).isEqualTo(alone.get(i).usage().completionTokens());
            assertThat(together.get(i).starts.get()).as("onStart calls of request %d", i).isEqualTo(1);
        }
        assertThat(demo.scheduler.stats().preemptions()).as("preemptions").isGreaterThan(preemptionsBefore);
        assertThat(demo.scheduler.stats().failed()).isZero();
        EngineSnapshot e = demo.scheduler.engineSnapshot();
        assertThat(e.kvBlocks().totalBlocks()).isEqualTo(poolTokens / BLOCK);
    }

    @Test
    void aRequestLargerThanTheWholePoolIsRefusedAtSubmitNamingBothNumbers() {
        int[] prompt = demo.prompt("A question that would need more room than the whole cache.");
        int maxTokens = poolTokens - prompt.length + 1;
        assertThatThrownBy(() -> demo.scheduler.submit(
                new GenerationRequest("huge", prompt, maxTokens, SamplingParams.greedyDecoding(), List.of(), 0),
                new Collector()))
                .isInstanceOfSatisfying(GenerationException.class, e -> assertThat(e.code()).isEqualTo(Code.CONTEXT_OVERFLOW))
                .hasMessageContaining("together " + (poolTokens + 1))
                .hasMessageContaining(poolTokens + " tokens the whole KV cache holds");
    }
}

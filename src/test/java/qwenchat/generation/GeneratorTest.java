package qwenchat.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.cpu.CpuEngine;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.model.ModelConfigParser;
import qwenchat.weights.Checkpoint;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The generation loop on a reference checkpoint, whose greedy continuation transformers recorded;
 * ids are rendered as "[id]" so stop strings can be placed exactly.
 */
class GeneratorTest {

    static Path dir;
    static ModelConfig config;
    static Checkpoint ckpt;
    static int[] prompt;
    static int[] greedy;

    @BeforeAll
    static void load() throws Exception {
        dir = Path.of(GeneratorTest.class.getResource("/reference/tiny-untied-hd64-g2").toURI());
        config = ModelConfigParser.parseConfig(dir.resolve("config.json"));
        ckpt = Checkpoint.open(dir);
        JsonNode p = JsonMapper.builder().build().readTree(Files.readString(dir.resolve("references.json")))
                .get("prompts").get(3);
        prompt = ints(p.get("ids"));
        greedy = ints(p.get("greedy"));
    }

    @AfterAll
    static void close() {
        ckpt.close();
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    static TextDecoder brackets() {
        return new TextDecoder() {
            @Override
            public String accept(int id) {
                return "[" + id + "]";
            }

            @Override
            public String finish() {
                return "";
            }
        };
    }

    static String rendered(int[] ids) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append('[').append(id).append(']');
        return sb.toString();
    }

    private GenerationResult run(int capacity, List<Integer> eos, int maxNew, List<String> stops, StringBuilder streamed) {
        try (CpuEngine e = CpuEngine.load(config, ckpt, new KvCacheCapacity(1, capacity))) {
            Generator g = new Generator(e, GeneratorTest::brackets, eos);
            GenerationResult r = g.generate(new GenerationRequest("test", prompt, maxNew, SamplingParams.greedyDecoding(), stops, 3),
                    streamed::append);
            assertEquals(0, e.openSequenceCount(), "the generator must free its sequence");
            return r;
        }
    }

    @Test
    void stopsAtMaxNewTokensWithTheReferenceContinuation() {
        StringBuilder streamed = new StringBuilder();
        GenerationResult r = run(256, List.of(), 12, List.of(), streamed);
        assertArrayEquals(Arrays.copyOf(greedy, 12), r.ids());
        assertEquals(FinishReason.LENGTH, r.finishReason());
        assertEquals(rendered(r.ids()), r.text());
        assertEquals(r.text(), streamed.toString());
        assertEquals(prompt.length, r.usage().promptTokens());
        assertEquals(12, r.usage().completionTokens());
        assertEquals(12, r.steps().size());
        assertEquals(3, r.steps().get(0).topIds().length);
        assertTrue(r.usage().timeToFirstTokenMillis() >= 0);
        assertTrue(r.usage().totalMillis() >= r.usage().timeToFirstTokenMillis());
    }

    @Test
    void stopsOnAnEosIdWithoutReturningIt() {
        int eos = greedy[3];
        int first = 0;
        while (greedy[first] != eos) first++;
        GenerationResult r = run(256, List.of(999_999, eos), 32, List.of(), new StringBuilder());
        assertEquals(FinishReason.STOP, r.finishReason());
        assertArrayEquals(Arrays.copyOf(greedy, first), r.ids());
        assertEquals(first + 1, r.usage().completionTokens());
    }

    @Test
    void stopStringEndsGenerationAndNeverReachesTheStream() {
        String stop = "[" + greedy[4] + "][" + greedy[5] + "]";
        StringBuilder streamed = new StringBuilder();
        GenerationResult r = run(256, List.of(), 32, List.of(stop), streamed);
        assertEquals(FinishReason.STOP, r.finishReason());
        String full = rendered(greedy);
        String expected = full.substring(0, full.indexOf(stop));
        assertEquals(expected, r.text());
        assertEquals(expected, streamed.toString());
        assertFalse(streamed.toString().contains(stop));
    }

    @Test
    void heldBackTextIsReleasedWhenTheStopStringDoesNotComplete() {
        String stop = "[" + greedy[1] + "]never";
        StringBuilder streamed = new StringBuilder();
        GenerationResult r = run(256, List.of(), 8, List.of(stop), streamed);
        assertEquals(FinishReason.LENGTH, r.finishReason());
        assertEquals(rendered(Arrays.copyOf(greedy, 8)), streamed.toString());
    }

    @Test
    void stopsAtTheContextLimit() {
        GenerationResult r = run(prompt.length + 5, List.of(), 32, List.of(), new StringBuilder());
        assertEquals(FinishReason.LENGTH, r.finishReason());
        // the cache holds prompt + 5 tokens; the sixth comes from the last position's logits
        assertArrayEquals(Arrays.copyOf(greedy, 6), r.ids());
    }

    @Test
    void rejectsAPromptThatFillsTheContext() {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> run(prompt.length, List.of(), 4, List.of(), new StringBuilder()));
        assertTrue(ex.getMessage().contains("context limit"), ex.getMessage());
    }
}

package qwenchat.grammar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import qwenchat.tokenizer.QwenTokenizer;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class GrammarCacheTest {

    static final JsonMapper JSON = JsonMapper.builder().build();
    static QwenTokenizer tokenizer;
    static Set<Integer> eos;

    @BeforeAll
    static void load() {
        tokenizer = QwenTokenizer.bundled();
        eos = Set.of(tokenizer.specialTokenId("<|im_end|>"), tokenizer.specialTokenId("<|endoftext|>"));
    }

    static JsonNode schema(String props) {
        return JSON.readTree("{\"type\":\"object\",\"properties\":{" + props + "},\"required\":[\"a\"]}");
    }

    /** Writes {@code text} under a fresh constraint of {@code g}; returns each step's mask. */
    static java.util.List<BitSet> write(Grammar g, String text) {
        JsonConstraint c = g.start();
        java.util.List<BitSet> masks = new java.util.ArrayList<>();
        for (int t : tokenizer.encode(text)) {
            BitSet allowed = c.allowed(100);
            assertThat(allowed.get(t)).as("token %d of %s", t, text).isTrue();
            masks.add(allowed);
            c.accept(t);
        }
        assertThat(c.complete()).isTrue();
        return masks;
    }

    @Test
    void aRepeatedSchemaGetsTheSameGrammarAndASecondAnswerWalksNoNewStates() {
        GrammarCache cache = new GrammarCache(tokenizer, eos);
        Grammar first = cache.forSchema(schema("\"a\":{\"type\":\"string\"}"));
        java.util.List<BitSet> coldMasks = write(first, "{\"a\": \"hello there\"}");
        int states = first.cachedStates();

        Grammar again = cache.forSchema(schema("\"a\":{\"type\":\"string\"}"));
        java.util.List<BitSet> warmMasks = write(again, "{\"a\": \"hello there\"}");

        assertThat(again).isSameAs(first);
        assertThat(again.cachedStates()).isEqualTo(states);
        assertThat(warmMasks).isEqualTo(coldMasks);
    }

    @Test
    void differentSchemasGetDifferentGrammarsWithTheirOwnMasks() {
        GrammarCache cache = new GrammarCache(tokenizer, eos);
        Grammar strings = cache.forSchema(schema("\"a\":{\"type\":\"string\"}"));
        Grammar numbers = cache.forSchema(schema("\"a\":{\"type\":\"integer\"}"));

        assertThat(numbers).isNotSameAs(strings);
        write(strings, "{\"a\": \"x\"}");
        write(numbers, "{\"a\": 42}");
        assertThat(cache.anyObject()).isSameAs(cache.anyObject());
        Map<String, JsonNode> tools = new LinkedHashMap<>();
        tools.put("get_weather", schema("\"a\":{\"type\":\"string\"}"));
        assertThat(cache.toolCall(tools)).isSameAs(cache.toolCall(new LinkedHashMap<>(tools)));
    }

    @Test
    void theLeastRecentlyUsedGrammarIsDroppedPastTheLimit() {
        GrammarCache cache = new GrammarCache(tokenizer, eos);
        Grammar kept = cache.forSchema(schema("\"a\":{\"type\":\"string\",\"maxLength\":0}"));
        Grammar dropped = cache.forSchema(schema("\"a\":{\"type\":\"string\",\"maxLength\":1}"));
        for (int i = 2; i <= GrammarCache.MAX_GRAMMARS; i++) {
            cache.forSchema(schema("\"a\":{\"type\":\"string\",\"maxLength\":" + i + "}"));
            cache.forSchema(schema("\"a\":{\"type\":\"string\",\"maxLength\":0}")); // keeps it recent
        }
        assertThat(cache.forSchema(schema("\"a\":{\"type\":\"string\",\"maxLength\":0}"))).isSameAs(kept);
        assertThat(cache.forSchema(schema("\"a\":{\"type\":\"string\",\"maxLength\":1}"))).isNotSameAs(dropped);
    }

    @Test
    void aSchemaThatCannotBeEnforcedThrowsEveryTimeAndIsNotCached() {
        GrammarCache cache = new GrammarCache(tokenizer, eos);
        JsonNode bad = JSON.readTree("{\"type\":\"string\",\"pattern\":\"^a+$\"}");
        assertThatThrownBy(() -> cache.forSchema(bad)).isInstanceOf(SchemaException.class);
        assertThatThrownBy(() -> cache.forSchema(bad)).isInstanceOf(SchemaException.class);
    }

    @Test
    void theCacheServesOnlyItsOwnTokenizerAndEndIds() {
        GrammarCache cache = new GrammarCache(tokenizer, eos);
        assertThat(cache.serves(tokenizer, eos)).isTrue();
        assertThat(cache.serves(tokenizer, Set.of(1))).isFalse();
    }
}

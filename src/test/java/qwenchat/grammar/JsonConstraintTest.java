package qwenchat.grammar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.io.ByteArrayOutputStream;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import qwenchat.tokenizer.QwenTokenizer;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The grammar alone, with tokens drawn at random from each mask: the hardest "model" there is. */
class JsonConstraintTest {

    static final JsonMapper JSON = JsonMapper.builder().build();
    static QwenTokenizer tokenizer;
    static TokenTrie trie;
    static Set<Integer> eos;

    @BeforeAll
    static void load() {
        tokenizer = QwenTokenizer.bundled();
        trie = TokenTrie.of(tokenizer);
        eos = Set.of(tokenizer.specialTokenId("<|im_end|>"), tokenizer.specialTokenId("<|endoftext|>"));
    }

    /** Draws tokens uniformly from each mask until end-of-sequence or the limit; returns the text. */
    static String run(TokenConstraint c, int maxTokens, Random r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < maxTokens; i++) {
            BitSet allowed = c.allowed(maxTokens - i);
            assertThat(allowed.cardinality()).as("some token is always allowed").isPositive();
            int pick = allowed.nextSetBit(0);
            for (int skip = r.nextInt(allowed.cardinality()); skip > 0; skip--) pick = allowed.nextSetBit(pick + 1);
            // Random text rarely ends on its own; take end-of-sequence half the times it is allowed.
            if (allowed.get(eos.iterator().next()) && r.nextBoolean()) return out.toString(java.nio.charset.StandardCharsets.UTF_8);
            if (eos.contains(pick)) return out.toString(java.nio.charset.StandardCharsets.UTF_8);
            c.accept(pick);
            out.writeBytes(tokenizer.tokenBytes(pick));
        }
        return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    @Test
    void randomTokensFromTheMaskAlwaysGiveJsonValidForTheSchemaWithinTheLimit() {
        SchemaRegistry registry = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);
        for (int seed = 0; seed < 100; seed++) {
            Random r = new Random(seed);
            JsonNode schema = RandomSchemas.root(r);
            int limit = 40 + r.nextInt(40);
            String text = run(JsonConstraint.forSchema(schema, trie, tokenizer, eos), limit, r);
            JsonNode value = JSON.readTree(text);
            Schema validator = registry.getSchema(JSON.writeValueAsString(schema));
            assertThat(validator.validate(value)).as("seed %d, schema %s, output %s", seed, schema, text).isEmpty();
        }
    }

    @Test
    void jsonObjectModeGivesAnObject() {
        for (int seed = 0; seed < 50; seed++) {
            String text = run(JsonConstraint.anyObject(trie, tokenizer, eos), 30, new Random(seed));
            assertThat(JSON.readTree(text).isObject()).as(text).isTrue();
        }
    }

    @Test
    void aToolCallConstraintWritesOneCallOfAnOfferedFunction() {
        Map<String, JsonNode> functions = new LinkedHashMap<>();
        functions.put("get", JSON.readTree("{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}},\"required\":[\"q\"]}"));
        functions.put("get_weather", JSON.readTree("{}"));
        for (int seed = 0; seed < 30; seed++) {
            String text = run(JsonConstraint.toolCall(functions, trie, tokenizer, eos), 40, new Random(seed));
            assertThat(text).startsWith("<tool_call>\n{\"name\": \"get").endsWith("}\n</tool_call>");
            JsonNode call = JSON.readTree(text.substring("<tool_call>\n".length(), text.length() - "\n</tool_call>".length()));
            assertThat(functions).containsKey(call.get("name").stringValue());
            assertThat(call.get("arguments").isObject()).isTrue();
        }
    }

    @Test
    void unsupportedKeywordsAreRefusedNamingWhere() {
        assertThatThrownBy(() -> JsonConstraint.forSchema(JSON.readTree(
                "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"x+\"}}}"), trie, tokenizer, eos))
                .isInstanceOf(SchemaException.class).hasMessageContaining("#/properties/a/pattern");
        assertThatThrownBy(() -> JsonConstraint.forSchema(JSON.readTree(
                "{\"anyOf\":[{\"type\":\"object\"},{\"type\":\"object\",\"properties\":{\"b\":{}}}]}"), trie, tokenizer, eos))
                .isInstanceOf(SchemaException.class).hasMessageContaining("#/anyOf");
    }

    @Test
    void maskingIsCheapOnceAStateWasSeen() {
        JsonConstraint c = JsonConstraint.forSchema(JSON.readTree("{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\"}},"
                + "\"required\":[\"s\"]}"), trie, tokenizer, eos);
        for (byte b : "{\"s\": \"abc".getBytes()) c.accept(tokenizer.encode(String.valueOf((char) b))[0]);
        long first = System.nanoTime();
        c.allowed(1000);
        long walk = System.nanoTime() - first;
        long again = System.nanoTime();
        c.accept(tokenizer.encode("d")[0]);
        c.allowed(1000);
        long cached = System.nanoTime() - again;
        System.out.printf("mask inside a string: first %.1f ms, cached %.3f ms%n", walk / 1e6, cached / 1e6);
        assertThat(cached).isLessThan(walk);
    }
}

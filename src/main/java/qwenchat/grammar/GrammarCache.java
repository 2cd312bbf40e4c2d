package qwenchat.grammar;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import qwenchat.tokenizer.QwenTokenizer;
import tools.jackson.databind.JsonNode;

/**
 * The grammars of recent schemas over one vocabulary, so that requests repeating a schema (an app's
 * tool set, its extraction format) share compiled grammars and their token masks: only the first
 * answer to a schema pays for the vocabulary walks. Keyed by the schema's JSON text; the least
 * recently used grammar goes first. Thread-safe.
 */
public final class GrammarCache {
    /** Distinct schemas kept; each holds at most {@link Grammar#MAX_CACHED_STATES} states' masks. */
    static final int MAX_GRAMMARS = 64;

    private final TokenTrie trie;
    private final QwenTokenizer tokenizer;
    private final Set<Integer> eos;
    private final Map<String, Grammar> grammars = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Grammar> eldest) {
            return size() > MAX_GRAMMARS;
        }
    };

    public GrammarCache(QwenTokenizer tokenizer, Set<Integer> eos) {
        this.trie = TokenTrie.of(tokenizer);
        this.tokenizer = tokenizer;
        this.eos = Set.copyOf(eos);
    }

    /** Whether this cache serves that tokenizer with those end-of-sequence ids. */
    public boolean serves(QwenTokenizer tokenizer, Set<Integer> eos) {
        return this.tokenizer == tokenizer && this.eos.equals(eos);
    }

    /** See {@link Grammar#forSchema}. */
    public Grammar forSchema(JsonNode schema) {
        return get("schema " + schema, () -> Grammar.forSchema(schema, trie, tokenizer, eos));
    }

    /** See {@link Grammar#anyObject}. */
    public Grammar anyObject() {
        return get("object", () -> Grammar.anyObject(trie, tokenizer, eos));
    }

    /** See {@link Grammar#toolCall}; {@code parameters} in the order the call may name them. */
    public Grammar toolCall(Map<String, JsonNode> parameters) {
        StringBuilder key = new StringBuilder("tools");
        parameters.forEach((name, schema) -> key.append(' ').append(qwenchat.tokenizer.PythonJson.quote(name)).append('=').append(schema));
        return get(key.toString(), () -> Grammar.toolCall(parameters, trie, tokenizer, eos));
    }

    private Grammar get(String key, Supplier<Grammar> compile) {
        synchronized (grammars) {
            Grammar g = grammars.get(key);
            if (g != null) return g;
        }
        // Compiled outside the lock; a schema that fails to compile throws and is not cached.
        Grammar g = compile.get();
        synchronized (grammars) {
            Grammar raced = grammars.putIfAbsent(key, g);
            return raced != null ? raced : g;
        }
    }
}

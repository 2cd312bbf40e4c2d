package qwenchat.grammar;

import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import qwenchat.tokenizer.PythonJson;
import qwenchat.tokenizer.QwenTokenizer;
import tools.jackson.databind.JsonNode;

/**
 * Keeps one sequence's output inside a JSON grammar: each step's mask holds the tokens whose
 * bytes the matcher accepts from the current state and after which the JSON can still be closed
 * within the tokens left ({@link JsonMatcher#minClose} bytes, one byte per token at worst, and
 * every ASCII byte is a token). So a length limit ends the output as complete JSON, not cut off.
 * End-of-sequence ids are allowed exactly when the text is complete.
 *
 * <p>Masks are cached per matcher state: inside a string without length bounds the state does
 * not change from token to token, so the walk over the vocabulary happens once.
 */
public final class JsonConstraint implements TokenConstraint {

    private final TokenTrie trie;
    private final QwenTokenizer tokenizer;
    private final Set<Integer> eos;
    /** Enough for the states one answer passes through; past it the cache starts over, bounding memory. */
    static final int MAX_CACHED_STATES = 256;
    private final Map<JsonMatcher.Stack, Entry> cache = new HashMap<>();
    private JsonMatcher.Stack state;

    /**
     * Tokens the walk found from one state, grouped by the bytes each leaves to close: few distinct
     * values occur (inside a string nearly every token leaves the same), so a few bitsets suffice.
     */
    private record Entry(BitSet all, java.util.TreeMap<Integer, BitSet> byClose) {
        int maxClose() {
            return byClose.isEmpty() ? 0 : byClose.lastKey();
        }
    }

    private JsonConstraint(Node root, TokenTrie trie, QwenTokenizer tokenizer, Set<Integer> eos) {
        this.trie = trie;
        this.tokenizer = tokenizer;
        this.eos = Set.copyOf(eos);
        this.state = JsonMatcher.start(root);
    }

    /** Output that validates against {@code schema}; throws {@link SchemaException} for what it cannot enforce. */
    public static JsonConstraint forSchema(JsonNode schema, TokenTrie trie, QwenTokenizer tokenizer, Set<Integer> eos) {
        return new JsonConstraint(SchemaCompiler.compile(schema), trie, tokenizer, eos);
    }

    /** Any JSON object ({@code response_format: json_object}). */
    public static JsonConstraint anyObject(TokenTrie trie, QwenTokenizer tokenizer, Set<Integer> eos) {
        return new JsonConstraint(SchemaCompiler.anyObject(), trie, tokenizer, eos);
    }

    /**
     * Exactly one call in Qwen2.5's format, {@code <tool_call>\n{"name": "NAME", "arguments": {...}}\n</tool_call>},
     * of one of the functions in {@code parameters} (name to arguments schema, in order).
     */
    public static JsonConstraint toolCall(Map<String, JsonNode> parameters, TokenTrie trie, QwenTokenizer tokenizer,
            Set<Integer> eos) {
        List<byte[]> names = new java.util.ArrayList<>();
        List<Node> then = new java.util.ArrayList<>();
        Node.Lit close = new Node.Lit(List.of(JsonMatcher.bytes("}\n</tool_call>")));
        for (Map.Entry<String, JsonNode> f : parameters.entrySet()) {
            names.add(JsonMatcher.bytes(PythonJson.quote(f.getKey()) + ", \"arguments\": "));
            JsonNode schema = f.getValue();
            Node args;
            try {
                args = schema == null || schema.isEmpty() ? SchemaCompiler.anyObject() : SchemaCompiler.compile(schema);
            } catch (SchemaException e) {
                throw new SchemaException("function '" + f.getKey() + "' parameters " + e.path(),
                        e.getMessage().substring(e.path().length() + 2));
            }
            then.add(new Node.Seq(List.of(args, close)));
        }
        Node root = new Node.Seq(List.of(new Node.Lit(List.of(JsonMatcher.bytes("<tool_call>\n{\"name\": "))),
                new Node.Branch(names, then)));
        return new JsonConstraint(root, trie, tokenizer, eos);
    }

    @Override
    public BitSet allowed(int remaining) {
        BitSet out;
        if (state == JsonMatcher.DONE) {
            out = new BitSet();
        } else {
            Entry e = cache.get(state);
            if (e == null) {
                if (cache.size() >= MAX_CACHED_STATES) cache.clear();
                e = walk(state);
                cache.put(state, e);
            }
            int budget = remaining - 1; // tokens left after this one
            if (budget >= e.maxClose()) {
                out = e.all();
            } else {
                out = new BitSet(trie.vocabularySize);
                for (BitSet fits : e.byClose().headMap(budget, true).values()) out.or(fits);
                if (out.isEmpty() && !e.byClose().isEmpty()) {
                    // Too few tokens even to close: the shortest way towards closing, and length ends it.
                    out.or(e.byClose().firstEntry().getValue());
                }
            }
        }
        if (JsonMatcher.canEnd(state)) {
            out = (BitSet) out.clone();
            for (int id : eos) out.set(id);
        }
        return out;
    }

    @Override
    public void accept(int token) {
        if (eos.contains(token) || state == null) return;
        JsonMatcher.Stack s = state;
        for (byte b : tokenizer.tokenBytes(token)) {
            s = JsonMatcher.feed(s, b & 0xff);
            if (s == null) throw new IllegalStateException("token " + token + " is outside the grammar");
        }
        state = s;
    }

    /** Whether the text so far is complete JSON. */
    public boolean complete() {
        return JsonMatcher.canEnd(state);
    }

    private Entry walk(JsonMatcher.Stack from) {
        BitSet all = new BitSet(trie.vocabularySize);
        java.util.TreeMap<Integer, BitSet> byClose = new java.util.TreeMap<>();
        walk(0, from, all, byClose);
        return new Entry(all, byClose);
    }

    private void walk(int node, JsonMatcher.Stack s, BitSet all, java.util.TreeMap<Integer, BitSet> byClose) {
        for (int c = trie.firstChild[node]; c >= 0; c = trie.nextSibling[c]) {
            JsonMatcher.Stack t = JsonMatcher.feed(s, trie.label[c] & 0xff);
            if (t == null) continue;
            int id = trie.token[c];
            if (id >= 0) {
                all.set(id);
                byClose.computeIfAbsent(JsonMatcher.minClose(t), k -> new BitSet(trie.vocabularySize)).set(id);
            }
            if (trie.firstChild[c] >= 0) walk(c, t, all, byClose);
        }
    }
}

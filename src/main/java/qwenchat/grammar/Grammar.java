package qwenchat.grammar;

import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import qwenchat.tokenizer.PythonJson;
import qwenchat.tokenizer.QwenTokenizer;
import tools.jackson.databind.JsonNode;

/**
 * One compiled output grammar over one vocabulary, with the token masks found so far for its
 * matcher states. Finding a state's mask walks the vocabulary trie (milliseconds where most tokens
 * fit, as inside a string); the states one answer passes through recur in the next answer to the
 * same schema, so every request that shares this grammar shares the walks. Thread-safe: requests
 * of one schema may be constrained on several threads; two threads meeting a new state at once may
 * both walk it, which is harmless.
 */
public final class Grammar {
    /** Enough states for many answers to one schema; past it the cache starts over, bounding memory. */
    static final int MAX_CACHED_STATES = 4096;

    final Node root;
    final TokenTrie trie;
    final QwenTokenizer tokenizer;
    final Set<Integer> eos;
    private final ConcurrentHashMap<JsonMatcher.Stack, Masks> masks = new ConcurrentHashMap<>();

    /**
     * The tokens a state allows, grouped by the bytes each leaves to close: few distinct values occur
     * (inside a string nearly every token leaves the same), so a few bitsets suffice.
     */
    record Masks(BitSet all, TreeMap<Integer, BitSet> byClose) {
        int maxClose() {
            return byClose.isEmpty() ? 0 : byClose.lastKey();
        }
    }

    private Grammar(Node root, TokenTrie trie, QwenTokenizer tokenizer, Set<Integer> eos) {
        this.root = root;
        this.trie = trie;
        this.tokenizer = tokenizer;
        this.eos = Set.copyOf(eos);
    }

    /** Output that validates against {@code schema}; throws {@link SchemaException} for what it cannot enforce. */
    public static Grammar forSchema(JsonNode schema, TokenTrie trie, QwenTokenizer tokenizer, Set<Integer> eos) {
        return new Grammar(SchemaCompiler.compile(schema), trie, tokenizer, eos);
    }

    /** Any JSON object ({@code response_format: json_object}). */
    public static Grammar anyObject(TokenTrie trie, QwenTokenizer tokenizer, Set<Integer> eos) {
        return new Grammar(SchemaCompiler.anyObject(), trie, tokenizer, eos);
    }

    /**
     * Exactly one call in Qwen2.5's format, {@code <tool_call>\n{"name": "NAME", "arguments": {...}}\n</tool_call>},
     * of one of the functions in {@code parameters} (name to arguments schema, in order).
     */
    public static Grammar toolCall(Map<String, JsonNode> parameters, TokenTrie trie, QwenTokenizer tokenizer,
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
        return new Grammar(root, trie, tokenizer, eos);
    }

    /** A fresh constraint at the start of an answer. */
    public JsonConstraint start() {
        return new JsonConstraint(this);
    }

    Masks masksAt(JsonMatcher.Stack state) {
        Masks m = masks.get(state);
        if (m != null) return m;
        if (masks.size() >= MAX_CACHED_STATES) masks.clear();
        m = walk(state);
        masks.put(state, m);
        return m;
    }

    /** How many states' masks are cached (for tests). */
    int cachedStates() {
        return masks.size();
    }

    private Masks walk(JsonMatcher.Stack from) {
        BitSet all = new BitSet(trie.vocabularySize);
        TreeMap<Integer, BitSet> byClose = new TreeMap<>();
        walk(0, from, all, byClose);
        return new Masks(all, byClose);
    }

    private void walk(int node, JsonMatcher.Stack s, BitSet all, TreeMap<Integer, BitSet> byClose) {
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

package qwenchat.grammar;

import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
    private final Map<JsonMatcher.Stack, Entry> cache = new HashMap<>();
    private JsonMatcher.Stack state;

    /** Tokens the walk found from one state, with the bytes each leaves to close. */
    private record Entry(BitSet all, int[] ids, int[] close, int maxClose, int minClose) {
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
            names.add(JsonMatcher.bytes(JsonText.quote(f.getKey()) + ", \"arguments\": "));
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
            Entry e = cache.computeIfAbsent(state, this::walk);
            int budget = remaining - 1; // tokens left after this one
            if (budget >= e.maxClose()) {
                out = e.all();
            } else {
                out = new BitSet(trie.vocabularySize);
                for (int i = 0; i < e.ids().length; i++) if (e.close()[i] <= budget) out.set(e.ids()[i]);
                if (out.isEmpty()) {
                    // Too few tokens even to close: the shortest way towards closing, and length ends it.
                    for (int i = 0; i < e.ids().length; i++) if (e.close()[i] == e.minClose()) out.set(e.ids()[i]);
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
        IntBuffer ids = new IntBuffer();
        IntBuffer close = new IntBuffer();
        walk(0, from, all, ids, close);
        int max = 0, min = Integer.MAX_VALUE;
        for (int i = 0; i < close.size; i++) {
            max = Math.max(max, close.data[i]);
            min = Math.min(min, close.data[i]);
        }
        return new Entry(all, ids.toArray(), close.toArray(), max, min);
    }

    private void walk(int node, JsonMatcher.Stack s, BitSet all, IntBuffer ids, IntBuffer close) {
        for (int c = trie.firstChild[node]; c >= 0; c = trie.nextSibling[c]) {
            JsonMatcher.Stack t = JsonMatcher.feed(s, trie.label[c] & 0xff);
            if (t == null) continue;
            int id = trie.token[c];
            if (id >= 0) {
                all.set(id);
                ids.add(id);
                close.add(JsonMatcher.minClose(t));
            }
            if (trie.firstChild[c] >= 0) walk(c, t, all, ids, close);
        }
    }

    private static final class IntBuffer {
        int[] data = new int[1024];
        int size;

        void add(int v) {
            if (size == data.length) data = java.util.Arrays.copyOf(data, size * 2);
            data[size++] = v;
        }

        int[] toArray() {
            return java.util.Arrays.copyOf(data, size);
        }
    }
}

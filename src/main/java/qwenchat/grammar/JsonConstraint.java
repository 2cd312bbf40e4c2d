package qwenchat.grammar;

import java.util.BitSet;
import java.util.Map;
import java.util.Set;
import qwenchat.tokenizer.QwenTokenizer;
import tools.jackson.databind.JsonNode;

/**
 * Keeps one sequence's output inside a JSON {@link Grammar}: each step's mask holds the tokens whose
 * bytes the matcher accepts from the current state and after which the JSON can still be closed
 * within the tokens left ({@link JsonMatcher#minClose} bytes, one byte per token at worst, and
 * every ASCII byte is a token). So a length limit ends the output as complete JSON, not cut off.
 * End-of-sequence ids are allowed exactly when the text is complete. The masks of each state are
 * the grammar's, shared with every other answer to it.
 */
public final class JsonConstraint implements TokenConstraint {

    private final Grammar grammar;
    private JsonMatcher.Stack state;

    JsonConstraint(Grammar grammar) {
        this.grammar = grammar;
        this.state = JsonMatcher.start(grammar.root);
    }

    /** A constraint over a grammar of its own (see {@link Grammar#forSchema}); shares no masks. */
    public static JsonConstraint forSchema(JsonNode schema, TokenTrie trie, QwenTokenizer tokenizer, Set<Integer> eos) {
        return Grammar.forSchema(schema, trie, tokenizer, eos).start();
    }

    /** A constraint over a grammar of its own (see {@link Grammar#anyObject}); shares no masks. */
    public static JsonConstraint anyObject(TokenTrie trie, QwenTokenizer tokenizer, Set<Integer> eos) {
        return Grammar.anyObject(trie, tokenizer, eos).start();
    }

    /** A constraint over a grammar of its own (see {@link Grammar#toolCall}); shares no masks. */
    public static JsonConstraint toolCall(Map<String, JsonNode> parameters, TokenTrie trie, QwenTokenizer tokenizer,
            Set<Integer> eos) {
        return Grammar.toolCall(parameters, trie, tokenizer, eos).start();
    }

    @Override
    public BitSet allowed(int remaining) {
        BitSet out;
        if (state == JsonMatcher.DONE) {
            out = new BitSet();
        } else {
            Grammar.Masks e = grammar.masksAt(state);
            int budget = remaining - 1; // tokens left after this one
            if (budget >= e.maxClose()) {
                out = e.all();
            } else {
                out = new BitSet(grammar.trie.vocabularySize);
                for (BitSet fits : e.byClose().headMap(budget, true).values()) out.or(fits);
                if (out.isEmpty() && !e.byClose().isEmpty()) {
                    // Too few tokens even to close: the shortest way towards closing, and length ends it.
                    out.or(e.byClose().firstEntry().getValue());
                }
            }
        }
        if (JsonMatcher.canEnd(state)) {
            out = (BitSet) out.clone();
            for (int id : grammar.eos) out.set(id);
        }
        return out;
    }

    @Override
    public void accept(int token) {
        if (grammar.eos.contains(token) || state == null) return;
        JsonMatcher.Stack s = state;
        for (byte b : grammar.tokenizer.tokenBytes(token)) {
            s = JsonMatcher.feed(s, b & 0xff);
            if (s == null) throw new IllegalStateException("token " + token + " is outside the grammar");
        }
        state = s;
    }

    /** Whether the text so far is complete JSON. */
    public boolean complete() {
        return JsonMatcher.canEnd(state);
    }
}

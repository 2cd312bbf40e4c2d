package qwenchat.grammar;

import java.util.Arrays;
import qwenchat.tokenizer.QwenTokenizer;

/**
 * The vocabulary's byte strings as a trie, so a mask is found by walking the grammar once per
 * shared prefix instead of once per token. Control tokens are left out: the grammar never writes
 * them, and end-of-sequence ids are allowed separately once the JSON is complete. Immutable.
 */
public final class TokenTrie {

    final int[] firstChild;
    final int[] nextSibling;
    final byte[] label;
    final int[] token; // the id ending at this node, or -1
    final int vocabularySize;

    private TokenTrie(int[] firstChild, int[] nextSibling, byte[] label, int[] token, int vocabularySize) {
        this.firstChild = firstChild;
        this.nextSibling = nextSibling;
        this.label = label;
        this.token = token;
        this.vocabularySize = vocabularySize;
    }

    public static TokenTrie of(QwenTokenizer tokenizer) {
        int n = tokenizer.vocabularySize();
        java.util.Set<Integer> control = new java.util.HashSet<>(tokenizer.controlTokens().values());
        int capacity = 1 << 16;
        int[] first = new int[capacity], next = new int[capacity], tok = new int[capacity];
        byte[] lab = new byte[capacity];
        Arrays.fill(first, -1);
        Arrays.fill(next, -1);
        Arrays.fill(tok, -1);
        int size = 1; // node 0 is the root
        for (int id = 0; id < n; id++) {
            if (control.contains(id)) continue;
            byte[] bytes = tokenizer.tokenBytes(id);
            if (bytes.length == 0) continue;
            int at = 0;
            for (byte b : bytes) {
                int c = first[at];
                while (c >= 0 && lab[c] != b) c = next[c];
                if (c < 0) {
                    if (size == first.length) {
                        int grown = first.length * 2;
                        first = grow(first, grown);
                        next = grow(next, grown);
                        tok = grow(tok, grown);
                        lab = Arrays.copyOf(lab, grown);
                    }
                    c = size++;
                    lab[c] = b;
                    next[c] = first[at];
                    first[at] = c;
                }
                at = c;
            }
            if (tok[at] < 0) tok[at] = id;
        }
        return new TokenTrie(Arrays.copyOf(first, size), Arrays.copyOf(next, size), Arrays.copyOf(lab, size),
                Arrays.copyOf(tok, size), n);
    }

    private static int[] grow(int[] a, int size) {
        int old = a.length;
        int[] b = Arrays.copyOf(a, size);
        Arrays.fill(b, old, size, -1);
        return b;
    }

    int nodes() {
        return label.length;
    }
}

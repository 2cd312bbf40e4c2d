package qwenchat.engine.sampling;

import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * The tokens one sequence has been fed, as the penalties need them: every distinct id (prompt and
 * generated, for the repetition penalty) and per-id counts of generated ids (presence and
 * frequency penalties). Its generated count is the counter of the next draw.
 */
public final class TokenHistory {

    private final BitSet seen = new BitSet();
    private final Map<Integer, Integer> generatedCounts = new HashMap<>();
    private int generated;

    public void addPrompt(int[] tokens) {
        for (int t : tokens) seen.set(t);
    }

    public void addGenerated(int token) {
        seen.set(token);
        generatedCounts.merge(token, 1, Integer::sum);
        generated++;
    }

    /** Generated tokens fed so far: the index {@code n} of the token the next draw picks. */
    public int generatedCount() {
        return generated;
    }

    BitSet seen() {
        return seen;
    }

    Map<Integer, Integer> generatedCounts() {
        return generatedCounts;
    }
}

package qwenchat.engine.cuda;

import java.util.Arrays;
import qwenchat.engine.sampling.TokenHistory;

/**
 * Host-side record of each open sequence's tokens: how many have been computed and which (the
 * sampler's penalties need them: repetition sees all, presence/frequency only the ones appended by
 * decode steps). Which KV blocks hold them is the {@code KvBlockManager}'s business; ids come from
 * it, so both agree on which sequences are open.
 */
final class SequenceTable {
    private final boolean[] open;
    private final int[] length;
    private final int[][] fed;         // every token appended, in order
    private final boolean[][] decoded; // fed[i] came from a decode step
    private final TokenHistory[] history; // what the CPU Sampler's draw counter and penalties see
    private final PenaltyState[] penalties; // the same, as the penalty kernel's entries
    private int openCount;

    SequenceTable(int maxSequences) {
        open = new boolean[maxSequences];
        length = new int[maxSequences];
        fed = new int[maxSequences][];
        decoded = new boolean[maxSequences][];
        history = new TokenHistory[maxSequences];
        penalties = new PenaltyState[maxSequences];
    }

    /** Starts an empty record for sequence {@code i}, which the block manager has just opened. */
    void open(int i) {
        if (open[i]) throw new IllegalStateException("sequence " + i + " is open already");
        open[i] = true;
        length[i] = 0;
        fed[i] = new int[16];
        decoded[i] = new boolean[16];
        history[i] = new TokenHistory();
        penalties[i] = new PenaltyState();
        openCount++;
    }

    void free(int s) {
        if (s >= 0 && s < open.length && open[s]) {
            open[s] = false;
            length[s] = 0;
            fed[s] = null;
            decoded[s] = null;
            history[s] = null;
            penalties[s] = null;
            openCount--;
        }
    }

    int openCount() {
        return openCount;
    }

    int length(int s) {
        requireOpen(s);
        return length[s];
    }

    void requireOpen(int s) {
        if (s < 0 || s >= open.length || !open[s]) {
            throw new IllegalArgumentException("sequence " + s + " is not open (slots 0.." + (open.length - 1) + ")");
        }
    }

    void append(int s, int[] tokens, int from, int count, boolean byDecode) {
        int n = length[s] + count;
        if (n > fed[s].length) {
            int cap = Math.max(n, fed[s].length * 2);
            fed[s] = Arrays.copyOf(fed[s], cap);
            decoded[s] = Arrays.copyOf(decoded[s], cap);
        }
        System.arraycopy(tokens, from, fed[s], length[s], count);
        if (byDecode) {
            for (int i = 0; i < count; i++) {
                history[s].addGenerated(tokens[from + i]);
                penalties[s].addGenerated(tokens[from + i]);
            }
        } else {
            history[s].addPrompt(Arrays.copyOfRange(tokens, from, from + count));
            penalties[s].addPrompt(tokens, from, count);
        }
        Arrays.fill(decoded[s], length[s], n, byDecode);
        length[s] = n;
    }

    /**
     * Re-labels the last {@code count} tokens fed as generated ones (a recomputed sequence's sampled
     * tail). The history is rebuilt from every token's label, so generated tokens of an earlier
     * chunk of the same recompute stay generated.
     */
    void markGenerated(int s, int count) {
        Arrays.fill(decoded[s], length[s] - count, length[s], true);
        TokenHistory h = new TokenHistory();
        PenaltyState pen = new PenaltyState();
        int i = 0;
        while (i < length[s]) {
            if (decoded[s][i]) {
                h.addGenerated(fed[s][i]);
                pen.addGenerated(fed[s][i++]);
                continue;
            }
            int j = i;
            while (j < length[s] && !decoded[s][j]) j++;
            h.addPrompt(Arrays.copyOfRange(fed[s], i, j));
            pen.addPrompt(fed[s], i, j - i);
            i = j;
        }
        history[s] = h;
        penalties[s] = pen;
    }

    TokenHistory history(int s) {
        return history[s];
    }

    /** The sequence's penalty entries, kept as it grows; see {@link PenaltyState}. */
    PenaltyState penalties(int s) {
        return penalties[s];
    }
}

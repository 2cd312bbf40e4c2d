package qwenchat.tokenizer;

import java.util.Arrays;

/** Open-addressing map from a pair of token ids to its merge rank: the hot lookup of BPE, kept free of boxing. */
final class PairRanks {

    private static final long EMPTY = -1L;

    private final long[] keys;
    private final int[] ranks;
    private final int mask;

    PairRanks(int expected) {
        int capacity = Integer.highestOneBit(Math.max(4, expected * 2 - 1)) << 1;
        keys = new long[capacity];
        ranks = new int[capacity];
        mask = capacity - 1;
        Arrays.fill(keys, EMPTY);
    }

    private static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & mask;
    }

    /** Sets the pair's rank; a pair listed twice keeps the later rank, as Hugging Face's map does. */
    void put(int left, int right, int rank) {
        long k = key(left, right);
        int i = slot(k);
        while (keys[i] != EMPTY && keys[i] != k) {
            i = (i + 1) & mask;
        }
        keys[i] = k;
        ranks[i] = rank;
    }

    /** Rank of the merge of {@code left} and {@code right}, or -1 when they do not merge. */
    int rank(int left, int right) {
        long k = key(left, right);
        int i = slot(k);
        while (true) {
            long stored = keys[i];
            if (stored == k) return ranks[i];
            if (stored == EMPTY) return -1;
            i = (i + 1) & mask;
        }
    }
}

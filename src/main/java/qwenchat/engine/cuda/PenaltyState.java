package qwenchat.engine.cuda;

import java.util.Arrays;

/**
 * One sequence's penalty entries as sample_prepare (sampling.cu) reads them: every distinct id the
 * sequence has been fed (the repetition penalty's set) with how many times it was generated (the
 * presence and frequency penalties' counts). Kept up to date token by token as the sequence grows,
 * so a step writes its rows' entries with one copy each instead of rebuilding them from the whole
 * history; its size follows the distinct ids, never the vocabulary. Entries come in first-seen
 * order: each names a different id, so the kernel's result does not depend on their order.
 */
final class PenaltyState {

    private int[] ids = new int[64];    // distinct ids, first seen first
    private int[] counts = new int[64]; // times ids[j] was generated
    private int size;
    private int[] slots = new int[128]; // open addressing: entry index + 1, 0 = empty
    private int mask = 127;

    void addPrompt(int[] tokens, int from, int count) {
        for (int i = from; i < from + count; i++) entry(tokens[i]);
    }

    void addGenerated(int token) {
        int j = entry(token); // first: it may grow counts, which counts[entry(token)]++ would index stale
        counts[j]++;
    }

    /** Distinct ids fed so far: the entries {@link #write} produces. */
    int size() {
        return size;
    }

    /**
     * Writes the entries at {@code at} of the step's packed arrays: the id, flag 1 when the
     * repetition penalty applies, and the delta the Sampler subtracts from a generated id,
     * {@code (float) (count * frequency + presence)}, 0 for ids never generated or without
     * presence and frequency penalties.
     */
    void write(int[] outIds, int[] outFlags, float[] outDelta, int at, boolean repetition, boolean presenceOrFrequency,
            double frequency, double presence) {
        System.arraycopy(ids, 0, outIds, at, size);
        Arrays.fill(outFlags, at, at + size, repetition ? 1 : 0);
        for (int j = 0; j < size; j++) {
            int c = counts[j];
            outDelta[at + j] = presenceOrFrequency && c > 0 ? (float) (c * frequency + presence) : 0f;
        }
    }

    /** The entry of {@code id}, made if it is new. */
    private int entry(int id) {
        int h = mix(id) & mask;
        while (true) {
            int s = slots[h];
            if (s == 0) break;
            if (ids[s - 1] == id) return s - 1;
            h = (h + 1) & mask;
        }
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
            counts = Arrays.copyOf(counts, size * 2);
        }
        ids[size] = id;
        counts[size] = 0;
        slots[h] = ++size;
        if (2 * size > slots.length) rehash();
        return size - 1;
    }

    private void rehash() {
        slots = new int[slots.length * 2];
        mask = slots.length - 1;
        for (int j = 0; j < size; j++) {
            int h = mix(ids[j]) & mask;
            while (slots[h] != 0) h = (h + 1) & mask;
            slots[h] = j + 1;
        }
    }

    private static int mix(int id) {
        int h = id * 0x9E3779B9;
        return h ^ (h >>> 16);
    }
}

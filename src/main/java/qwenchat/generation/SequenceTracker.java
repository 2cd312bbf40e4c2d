package qwenchat.generation;

import java.util.Set;

/**
 * One sequence's stop logic and text, fed one sampled token at a time: eos ids, stop strings
 * (text that could still become one is held back, so none leaks, even in part), the token budget,
 * the context limit, and incremental UTF-8 decoding. Shared by the single-sequence
 * {@link Generator} and the batching scheduler, which keeps one per running sequence.
 */
public final class SequenceTracker {

    private final TextDecoder decoder;
    private final StopStringFilter filter;
    private final int[] eosIds; // a handful of ids: a scan beats boxing every token for a set lookup
    private final int maxNewTokens;
    private final int contextLimit;
    private final IntArray ids = new IntArray();
    private int sampled;
    private FinishReason reason;

    /**
     * @param contextLimit tokens the sequence may hold in all, prompt included
     */
    public SequenceTracker(TextDecoder decoder, java.util.List<String> stopStrings, Set<Integer> eosIds,
            int maxNewTokens, int contextLimit) {
        this.decoder = decoder;
        this.filter = new StopStringFilter(stopStrings);
        this.eosIds = eosIds.stream().mapToInt(Integer::intValue).toArray();
        this.maxNewTokens = maxNewTokens;
        this.contextLimit = contextLimit;
    }

    /**
     * Takes the token just sampled and returns the text that may be sent now (possibly empty).
     *
     * @param kvLength tokens in the sequence's KV cache, which does not hold {@code token} yet
     */
    public String accept(int token, int kvLength) {
        if (reason != null) throw new IllegalStateException("the sequence already finished (" + reason + ")");
        sampled++;
        if (isEos(token)) {
            reason = FinishReason.STOP;
            return "";
        }
        ids.add(token);
        String out = filter.add(decoder.accept(token));
        if (filter.stopped()) {
            reason = FinishReason.STOP;
        } else if (sampled >= maxNewTokens || kvLength + 1 > contextLimit) {
            // Decoding on would feed this token back, growing the sequence past the limit.
            reason = FinishReason.LENGTH;
        }
        return out;
    }

    private boolean isEos(int token) {
        for (int id : eosIds) if (id == token) return true;
        return false;
    }

    /** Null while generation goes on; otherwise STOP or LENGTH. */
    public FinishReason finishReason() {
        return reason;
    }

    /** Text released only at the end: trailing bytes and text held back for a stop string that never came. */
    public String finish() {
        if (filter.stopped()) return "";
        return filter.add(decoder.finish()) + filter.flush();
    }

    /** Tokens sampled so far, an ending eos included. */
    public int sampledCount() {
        return sampled;
    }

    /** Generated ids without an ending eos. */
    public int[] ids() {
        return ids.toArray();
    }

    /** All text so far, cut before a stop string. */
    public String text() {
        return filter.text();
    }

    private static final class IntArray {
        private int[] a = new int[16];
        private int n;

        void add(int v) {
            if (n == a.length) a = java.util.Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        int[] toArray() {
            return java.util.Arrays.copyOf(a, n);
        }
    }
}

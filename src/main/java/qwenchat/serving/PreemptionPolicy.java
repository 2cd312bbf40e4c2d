package qwenchat.serving;

/**
 * Who gives way when the KV pool cannot hold the next step: background sequences (the bias lab's)
 * before interactive ones, and within each the ones that arrived last, one by one, until the rest
 * fit. A victim loses its blocks and is recomputed later from its prompt and the tokens it had
 * generated, so the work thrown away is mostly that of the youngest requests, and the first
 * sequence of {@link #order} (the oldest interactive one, if any) always makes progress (it fits
 * the pool on its own, which is checked at submit).
 */
final class PreemptionPolicy {

    private PreemptionPolicy() {
    }

    /**
     * The running sequences (given by arrival) in the order {@link #victims} expects them, whose
     * last entries give way first: interactive ones by arrival, then background ones by arrival.
     *
     * @param background per running sequence, by arrival: whether it is a background request
     * @return indices into the running list
     */
    static int[] order(boolean[] background) {
        int[] out = new int[background.length];
        int n = 0;
        for (int i = 0; i < background.length; i++) if (!background[i]) out[n++] = i;
        for (int i = 0; i < background.length; i++) if (background[i]) out[n++] = i;
        return out;
    }

    /**
     * @param needs blocks each running sequence needs for the step, in {@link #order}
     * @param held blocks each running sequence holds now, in the same order
     * @param freeBlocks blocks free in the pool
     * @return how many sequences to preempt, taken from the end of the order (the last entries of
     *     {@code needs}); never all of them
     */
    static int victims(int[] needs, int[] held, int freeBlocks) {
        if (needs.length != held.length) {
            throw new IllegalArgumentException(needs.length + " needs but " + held.length + " holdings");
        }
        long need = 0;
        for (int n : needs) need += n;
        long free = freeBlocks;
        int victims = 0;
        for (int i = needs.length - 1; i > 0 && need > free; i--) {
            need -= needs[i];
            free += held[i];
            victims++;
        }
        return victims;
    }
}

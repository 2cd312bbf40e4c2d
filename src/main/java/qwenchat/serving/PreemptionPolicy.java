package qwenchat.serving;

/**
 * Who gives way when the KV pool cannot hold the next step: the running sequences that arrived
 * last, one by one, until the rest fit. A victim loses its blocks and is recomputed later from its
 * prompt and the tokens it had generated, so the work thrown away is mostly that of the youngest
 * requests, and the oldest one always makes progress (it fits the pool on its own, which is checked
 * at submit).
 */
final class PreemptionPolicy {

    private PreemptionPolicy() {
    }

    /**
     * @param needs blocks each running sequence needs for the step, earliest arrival first
     * @param held blocks each running sequence holds now, in the same order
     * @param freeBlocks blocks free in the pool
     * @return how many of the newest sequences to preempt (the last entries of {@code needs}); never
     *     all of them
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

package qwenchat.serving;

import java.util.List;

/**
 * What one scheduler iteration does, decided by {@link StepPlanner} before anything changes.
 *
 * @param preempt running sequences to send back to the queue first, newest first (each goes to
 *     the head of the queue, so the oldest victim ends up first in line)
 * @param admit waiting sequences to open, from the head of the queue, in order
 * @param work each scheduled sequence's part of the engine step: running decodes first, then
 *     prefill chunks of running sequences, then those of the admitted ones
 * @param budgetLeft the step's budget nobody used, in tokens' worth of projections (a decode takes 1,
 *     a prefill chunk what {@link ChunkCost} charges for it)
 */
record StepPlan(List<ScheduledSequence> preempt, List<Admission> admit, List<Work> work, int budgetLeft) {

    StepPlan {
        preempt = List.copyOf(preempt);
        admit = List.copyOf(admit);
        work = List.copyOf(work);
    }

    /**
     * A waiting sequence that starts this step.
     *
     * @param reuseCache whether it starts on the cached blocks of its prefix (prefix caching is on)
     * @param cachedTokens tokens of its feed that cached KV blocks already hold, as the engine
     *     counted them while planning; the sequence starts on those blocks and prefills the rest
     */
    record Admission(ScheduledSequence sequence, boolean reuseCache, int cachedTokens) {
    }

    /**
     * One sequence's part of the step.
     *
     * @param tokens 1 for a decode; for a prefill chunk, how many of the feed's tokens after those
     *     the sequence holds to append
     * @param lastChunk for a prefill chunk, whether it completes the feed (and so samples)
     */
    record Work(ScheduledSequence sequence, boolean decode, int tokens, boolean lastChunk) {

        static Work decode(ScheduledSequence s) {
            return new Work(s, true, 1, true);
        }

        static Work chunk(ScheduledSequence s, int tokens, boolean last) {
            return new Work(s, false, tokens, last);
        }
    }

    boolean idle() {
        return work.isEmpty() && preempt.isEmpty();
    }

    int decodes() {
        int n = 0;
        for (Work w : work) if (w.decode()) n++;
        return n;
    }

    int prefillTokens() {
        int n = 0;
        for (Work w : work) if (!w.decode()) n += w.tokens();
        return n;
    }
}

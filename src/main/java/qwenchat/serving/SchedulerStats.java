package qwenchat.serving;

/**
 * What the scheduler has done, for tests and metrics; a snapshot taken after each loop iteration.
 *
 * @param steps engine steps run
 * @param maxBatch most sequences in one step (prefills and decodes together)
 * @param maxDecodeBatch most sequences decoded together in one step
 * @param openSequences sequences open in the engine after the last iteration
 * @param kvCacheBytes KV memory the engine held after the last iteration
 * @param reservedTokens prompt plus max new tokens of the running sequences: what they may grow to,
 *     no longer held back for them (KV blocks are taken as tokens arrive)
 * @param preemptions running sequences sent back to the queue because the KV pool ran out of blocks
 * @param prefixCacheQueries tokens looked up in the prefix cache (every feed about to be prefilled)
 * @param prefixCacheHits of those, tokens found cached and so not computed
 */
public record SchedulerStats(
        long steps,
        int maxBatch,
        int maxDecodeBatch,
        long tokensGenerated,
        long completed,
        long cancelled,
        long failed,
        long rejectedBusy,
        int running,
        int waiting,
        int openSequences,
        long kvCacheBytes,
        long reservedTokens,
        long preemptions,
        long prefixCacheQueries,
        long prefixCacheHits) {

    static final SchedulerStats EMPTY = new SchedulerStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    /** Share of looked-up tokens found in the prefix cache, 0..1; 0 before any lookup. */
    public double prefixCacheHitRate() {
        return prefixCacheQueries == 0 ? 0 : (double) prefixCacheHits / prefixCacheQueries;
    }
}

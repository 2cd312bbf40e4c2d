package qwenchat.serving;

/**
 * What the scheduler has done, for tests and metrics; a snapshot taken after each loop iteration.
 *
 * @param steps engine steps run
 * @param maxBatch most sequences in one step (prefills and decodes together)
 * @param maxDecodeBatch most sequences decoded together in one step
 * @param openSequences sequences open in the engine after the last iteration
 * @param kvCacheBytes KV memory the engine held after the last iteration
 * @param reservedTokens KV tokens reserved by running sequences (prompt plus max new tokens each)
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
        long reservedTokens) {

    static final SchedulerStats EMPTY = new SchedulerStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}

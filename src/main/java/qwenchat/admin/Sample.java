package qwenchat.admin;

/**
 * One dashboard point: the state at {@code t} and the rates over the interval before it. Latency
 * percentiles cover a trailing window of {@link LiveStats#WINDOW_TICKS} intervals and are null
 * when no request produced a value in it.
 *
 * @param t epoch seconds
 * @param kvUsed fraction 0..1 of the KV pool's tokens held by open sequences
 * @param kvBlocks fraction 0..1 of the KV pool's blocks in use (what admission and preemption count)
 * @param errors requests that failed or were refused as busy during the interval
 * @param preemptions running requests preempted for KV blocks during the interval
 */
public record Sample(
        long t,
        int running,
        int waiting,
        double decodeTokensPerSecond,
        double prefillTokensPerSecond,
        Double ttftP50Ms,
        Double ttftP95Ms,
        Double itlP50Ms,
        Double itlP95Ms,
        double kvUsed,
        double kvBlocks,
        long completed,
        long errors,
        long preemptions) {
}

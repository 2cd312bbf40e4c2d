package qwenchat.admin;

/**
 * One dashboard point: the state at {@code t} and the rates over the interval before it. Latency
 * percentiles cover a trailing window of {@link LiveStats#WINDOW_TICKS} intervals and are null
 * when no request produced a value in it.
 *
 * @param t epoch seconds
 * @param kvUsed fraction 0..1 of KV tokens held by open sequences
 * @param kvReserved fraction 0..1 of KV tokens reserved by running requests (what admission counts)
 * @param errors requests that failed or were refused as busy during the interval
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
        double kvReserved,
        long completed,
        long errors) {
}

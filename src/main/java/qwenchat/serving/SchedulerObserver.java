package qwenchat.serving;

/**
 * Receives the scheduler's counts and timings, never prompt or reply text: the seam for metrics,
 * the admin dashboard and the request log. Called on the loop thread, so implementations must be
 * quick and must not block; an observer that throws is logged and the loop carries on.
 */
public interface SchedulerObserver {

    /** One engine step ran: {@code prefillTokens} prompt tokens and {@code decodeTokens} single-token decodes. */
    default void onStep(int prefillTokens, int decodeTokens, long stepNanos) {
    }

    /** A request produced its first token; both times count from submit. */
    default void onFirstToken(long queueNanos, long timeToFirstTokenNanos) {
    }

    /** Time between two consecutive tokens of one sequence. */
    default void onInterTokenLatency(long nanos) {
    }

    /**
     * A sequence about to be prefilled looked its {@code queriedTokens} tokens up in the prefix
     * cache and found the first {@code hitTokens} of them cached.
     */
    default void onPrefixCacheLookup(int queriedTokens, int hitTokens) {
    }

    /** A running sequence gave its KV blocks up and went back to the queue, to be recomputed. */
    default void onPreemption() {
    }

    default void onFinished(RequestOutcome outcome) {
    }
}

package qwenchat.serving;

/**
 * What a prefill chunk costs out of a step's token budget, counting its attention.
 *
 * <p>A chunk's projections cost the same per token wherever it sits in the prompt, but each of its
 * tokens also attends to every token before it, so a late chunk of a long prompt takes several times
 * as long as an early one of the same size. Token {@code i} of a chunk appended after {@code held}
 * tokens costs {@code 1 + (held + i) / breakEven} tokens' worth of projections, where
 * {@code breakEven} is the context at which a token's attention costs as much as its projections
 * ({@link qwenchat.engine.InferenceEngine#attentionBreakEven()}). A chunk of {@code n} tokens costs
 * the sum, {@code n + n * (held + (n - 1) / 2) / breakEven}, rounded up. With {@code breakEven} 0
 * attention is not counted and a chunk costs its tokens.
 *
 * @param breakEven tokens of context at which attention costs as much as the projections; 0 counts
 *     tokens only
 */
record ChunkCost(int breakEven) {

    ChunkCost {
        if (breakEven < 0) {
            throw new IllegalArgumentException("attention break-even must be >= 0 tokens (0: count tokens only), got "
                    + breakEven);
        }
    }

    /**
     * The budget a chunk of {@code n} tokens after {@code held} ones takes, rounded up;
     * {@link Integer#MAX_VALUE} where it would be more.
     */
    int cost(int held, int n) {
        check(held, n);
        if (breakEven == 0 || n == 0) return n;
        // Attention's share, sum over i < n of (held + i) / breakEven, as num / den exactly. num < 2^64
        // for any int held and n, so it is exact as an unsigned long.
        long num = attentionNumerator(held, n);
        long den = 2L * breakEven;
        long share = Long.divideUnsigned(num, den) + (Long.remainderUnsigned(num, den) == 0 ? 0 : 1);
        if (share < 0 || share > Integer.MAX_VALUE - n) return Integer.MAX_VALUE;
        return n + (int) share;
    }

    /**
     * The largest {@code n <= remaining} with {@code cost(held, n) <= budget}, but at least 1 where
     * {@code remaining} and {@code budget} are: a prefill progresses every step it is given room in,
     * even when one of its tokens costs more than the room. 0 where either is 0 or less.
     */
    int largestChunk(int held, int remaining, int budget) {
        if (held < 0) throw new IllegalArgumentException("held must be >= 0, got " + held);
        if (remaining <= 0 || budget <= 0) return 0;
        int most = Math.min(remaining, budget); // a chunk costs at least its tokens
        if (breakEven == 0) return most;
        // cost(held, n) <= budget  <=>  n^2 + b*n - c <= 0 with b = 2*held - 1 + 2*breakEven and
        // c = 2*breakEven*budget (the rounding up drops out: budget - n is whole). The positive root,
        // in the form that does not cancel when c is small next to b^2, lands within a token or two
        // of the answer; the exact test settles it.
        double b = 2.0 * held - 1 + 2.0 * breakEven;
        double c = 2.0 * breakEven * budget;
        double root = 2 * c / (b + Math.sqrt(b * b + 4 * c));
        int n = (int) Math.max(0, Math.min(most, Math.floor(root)));
        while (n < most && fits(held, n + 1, budget)) n++;
        while (n > 0 && !fits(held, n, budget)) n--;
        return Math.max(1, n);
    }

    /** Whether {@code cost(held, n) <= budget}, without rounding: attention's share must fit {@code budget - n}. */
    private boolean fits(int held, int n, int budget) {
        if (n > budget) return false;
        // Both sides are exact: the left below 2^64 as an unsigned long, the right below 2^63.
        return Long.compareUnsigned(attentionNumerator(held, n), 2L * breakEven * (budget - n)) <= 0;
    }

    /** {@code 2 * breakEven} times attention's share of a chunk: {@code n * (2 * held + n - 1)}, as an unsigned long. */
    private static long attentionNumerator(int held, int n) {
        return (long) n * (2L * held + n - 1);
    }

    private static void check(int held, int n) {
        if (held < 0) throw new IllegalArgumentException("held must be >= 0, got " + held);
        if (n < 0) throw new IllegalArgumentException("chunk tokens must be >= 0, got " + n);
    }
}

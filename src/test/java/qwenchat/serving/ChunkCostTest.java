package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import org.junit.jupiter.api.Test;

/** What a prefill chunk takes out of a step's budget, and the largest chunk a budget buys. */
class ChunkCostTest {

    private static final int[] BREAK_EVENS = {1, 3, 64, 1000, 4096};
    private static final int[] HELDS = {0, 1, 7, 100, 999, 3000, 32_000};
    private static final int[] BUDGETS = {1, 2, 5, 17, 64, 500, 2048};

    /** The per-token sum, each token's share 1 + (held + i) / breakEven, summed as exact fractions and rounded up. */
    private static long perTokenSum(int breakEven, int held, int n) {
        if (breakEven == 0) return n;
        BigInteger num = BigInteger.ZERO; // sum over i of (breakEven + held + i), over breakEven
        for (int i = 0; i < n; i++) num = num.add(BigInteger.valueOf((long) breakEven + held + i));
        BigInteger[] qr = num.divideAndRemainder(BigInteger.valueOf(breakEven));
        return qr[0].longValueExact() + (qr[1].signum() == 0 ? 0 : 1);
    }

    /** The largest n <= remaining whose cost fits, found by trying every n; 0 where none does. */
    private static int bruteLargest(ChunkCost c, int held, int remaining, int budget) {
        int best = 0;
        for (int n = 1; n <= remaining; n++) {
            if (c.cost(held, n) <= budget) best = n;
            else break;
        }
        return best;
    }

    @Test
    void withBreakEvenZeroAChunkCostsItsTokensWhereverItSits() {
        ChunkCost tokensOnly = new ChunkCost(0);
        assertThat(tokensOnly.cost(0, 2048)).isEqualTo(2048);
        assertThat(tokensOnly.cost(32_000, 2048)).isEqualTo(2048);
        assertThat(tokensOnly.cost(5, 0)).isZero();
        assertThat(tokensOnly.largestChunk(32_000, 10_000, 2048)).isEqualTo(2048);
        assertThat(tokensOnly.largestChunk(32_000, 100, 2048)).isEqualTo(100);
    }

    @Test
    void aChunkCostsTheSumOfItsTokensProjectionsAndAttentionRoundedUp() {
        for (int breakEven : BREAK_EVENS) {
            ChunkCost c = new ChunkCost(breakEven);
            for (int held : HELDS) {
                for (int n : new int[] {0, 1, 2, 3, 10, 511, 2048}) {
                    assertThat((long) c.cost(held, n)).as("breakEven %d, held %d, n %d", breakEven, held, n)
                            .isEqualTo(perTokenSum(breakEven, held, n));
                }
            }
        }
        // By hand: 4 tokens after 10 at break-even 8 attend to 10, 11, 12, 13 earlier ones: 4 + 46/8 = 9.75.
        assertThat(new ChunkCost(8).cost(10, 4)).isEqualTo(10);
    }

    @Test
    void aLateChunkCostsMoreThanAnEarlyOneOfTheSameSize() {
        ChunkCost c = new ChunkCost(1000);
        assertThat(c.cost(0, 512)).isEqualTo(512 + 131); // attention: 512 * 255.5 / 1000 = 130.8
        assertThat(c.cost(30_000, 512)).isEqualTo(512 + 15_491); // 512 * 30255.5 / 1000 = 15490.8
    }

    @Test
    void theLargestChunkIsTheLargestThatFitsTheBudget() {
        for (int breakEven : BREAK_EVENS) {
            ChunkCost c = new ChunkCost(breakEven);
            for (int held : HELDS) {
                for (int budget : BUDGETS) {
                    for (int remaining : new int[] {1, 2, 9, 300, 5000}) {
                        int n = c.largestChunk(held, remaining, budget);
                        int brute = bruteLargest(c, held, remaining, budget);
                        assertThat(n).as("breakEven %d, held %d, remaining %d, budget %d", breakEven, held, remaining,
                                budget).isEqualTo(Math.max(1, brute));
                    }
                }
            }
        }
    }

    @Test
    void aChunkAlwaysProgressesByAtLeastOneTokenWhenThereIsBudgetAndPrompt() {
        ChunkCost c = new ChunkCost(1);
        assertThat(c.cost(100_000, 1)).isEqualTo(100_001);
        assertThat(c.largestChunk(100_000, 50, 1)).isEqualTo(1);
        assertThat(c.largestChunk(100_000, 50, 0)).as("no budget").isZero();
        assertThat(c.largestChunk(100_000, 0, 2048)).as("nothing left to prefill").isZero();
    }

    @Test
    void theLargestChunkNeverExceedsWhatIsLeftOfThePrompt() {
        for (int breakEven : new int[] {0, 1, 1000}) {
            ChunkCost c = new ChunkCost(breakEven);
            for (int remaining = 1; remaining < 40; remaining++) {
                assertThat(c.largestChunk(0, remaining, 1_000_000)).isEqualTo(remaining);
                assertThat(c.largestChunk(5000, remaining, 2048)).isLessThanOrEqualTo(remaining);
            }
        }
    }

    @Test
    void theExtremesOfIntStayExact() {
        ChunkCost c = new ChunkCost(1);
        assertThat(c.cost(Integer.MAX_VALUE, Integer.MAX_VALUE)).as("saturates").isEqualTo(Integer.MAX_VALUE);
        assertThat(c.largestChunk(Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE)).isEqualTo(1);
        ChunkCost wide = new ChunkCost(Integer.MAX_VALUE);
        int n = wide.largestChunk(0, Integer.MAX_VALUE, Integer.MAX_VALUE);
        assertThat(wide.cost(0, n)).isLessThanOrEqualTo(Integer.MAX_VALUE);
        // After none held, n tokens cost n + n(n-1)/(2 MAX) rounded up: n fits, n + 1 does not.
        long attention = (long) n * (n - 1);
        assertThat(n + (attention + 2L * Integer.MAX_VALUE - 1) / (2L * Integer.MAX_VALUE))
                .isLessThanOrEqualTo(Integer.MAX_VALUE);
        long next = (long) (n + 1) * n;
        assertThat(n + 1 + (next + 2L * Integer.MAX_VALUE - 1) / (2L * Integer.MAX_VALUE))
                .isGreaterThan(Integer.MAX_VALUE);
    }

    @Test
    void aNegativeBreakEvenIsRefusedNamingIt() {
        assertThatThrownBy(() -> new ChunkCost(-5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("attention break-even").hasMessageContaining("-5");
    }
}

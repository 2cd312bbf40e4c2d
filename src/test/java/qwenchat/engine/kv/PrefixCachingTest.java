package qwenchat.engine.kv;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import qwenchat.engine.KvCacheCapacity;

/** Automatic prefix caching in the block manager: names, holders, the eviction order. */
class PrefixCachingTest {

    private static KvBlockManager manager(int blocks) {
        return new KvBlockManager(new KvCacheCapacity(4, 100, 4, blocks));
    }

    private static int[] ids(int from, int count) {
        int[] t = new int[count];
        for (int i = 0; i < count; i++) t[i] = from + i;
        return t;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    private static int filled(KvBlockManager m, int[] tokens) {
        int s = m.openSequence();
        m.appendAll(new int[] {s}, new int[][] {tokens});
        return s;
    }

    @Test
    void aNewSequenceStartsOnTheFullBlocksOfTheLongestCachedPrefix() {
        KvBlockManager m = manager(20);
        int[] first = ids(100, 10); // two full blocks and half of a third
        int a = filled(m, first);
        int[] next = concat(Arrays.copyOf(first, 8), ids(500, 6));
        assertThat(m.cachedPrefixLength(next)).isEqualTo(8);
        int b = m.openSequence();
        assertThat(m.reuseCachedPrefix(b, next)).isEqualTo(8);
        assertThat(m.sequenceLength(b)).isEqualTo(8);
        assertThat(m.blockIds(b)).containsExactly(m.blockIds(a)[0], m.blockIds(a)[1]);
        // Shared, not copied: the pool lost no block to b.
        assertThat(m.freeBlocks()).isEqualTo(17);
    }

    @Test
    void atLeastOneTokenIsLeftToComputeEvenWhenTheWholeFeedIsCached() {
        KvBlockManager m = manager(20);
        int[] prompt = ids(7, 8);
        filled(m, prompt);
        assertThat(m.cachedPrefixLength(prompt)).isEqualTo(4);
        assertThat(m.cachedPrefixLength(Arrays.copyOf(prompt, 9))).isEqualTo(8);
    }

    @Test
    void aBlockIsFoundOnlyAfterTheSamePrefixNotForTheSameTokensElsewhere() {
        KvBlockManager m = manager(20);
        filled(m, concat(ids(0, 4), ids(40, 4)));
        // Same second block, other first block: its keys and values would differ.
        assertThat(m.cachedPrefixLength(concat(concat(ids(1, 4), ids(40, 4)), ids(90, 1)))).isZero();
        assertThat(m.cachedPrefixLength(concat(concat(ids(0, 4), ids(40, 4)), ids(90, 1)))).isEqualTo(8);
    }

    @Test
    void blocksFilledByDecodesAreCachedToo() {
        KvBlockManager m = manager(20);
        int a = filled(m, ids(0, 3));
        m.appendAll(new int[] {a}, new int[][] {{3}});
        m.appendAll(new int[] {a}, new int[][] {{4}});
        assertThat(m.cachedPrefixLength(ids(0, 6))).isEqualTo(4);
    }

    @Test
    void aFreedSequencesFullBlocksStayCachedAndCountAsFree() {
        KvBlockManager m = manager(20);
        int a = filled(m, ids(0, 10));
        m.freeSequence(a);
        assertThat(m.freeBlocks()).isEqualTo(20);
        assertThat(m.cachedFreeBlocks()).isEqualTo(2); // the half-full third block is not worth keeping
        int b = m.openSequence();
        assertThat(m.reuseCachedPrefix(b, ids(0, 12))).isEqualTo(8);
        assertThat(m.cachedFreeBlocks()).isZero();
        assertThat(m.freeBlocks()).isEqualTo(18);
    }

    @Test
    void cachedBlocksAreReclaimedOnlyWhenNoFreshBlockIsLeftLeastRecentlyReleasedFirst() {
        KvBlockManager m = manager(4);
        int a = filled(m, ids(0, 4));
        int b = filled(m, ids(100, 4));
        m.freeSequence(a);
        m.freeSequence(b);
        int c = filled(m, ids(200, 8)); // two fresh blocks, nothing reclaimed
        assertThat(m.cachedPrefixLength(ids(0, 5))).isEqualTo(4);
        assertThat(m.cachedPrefixLength(ids(100, 5))).isEqualTo(4);
        m.appendAll(new int[] {c}, new int[][] {{1}});
        assertThat(m.cachedPrefixLength(ids(0, 5))).as("a's block went first").isZero();
        assertThat(m.cachedPrefixLength(ids(100, 5))).isEqualTo(4);
    }

    @Test
    void aBlockHeldBySeveralSequencesReturnsToThePoolWithTheLastOne() {
        KvBlockManager m = manager(4);
        int a = filled(m, ids(0, 5));
        int b = m.openSequence();
        m.reuseCachedPrefix(b, ids(0, 6));
        m.freeSequence(a);
        assertThat(m.freeBlocks()).isEqualTo(3);
        m.freeSequence(b);
        assertThat(m.freeBlocks()).isEqualTo(4);
    }

    @Test
    void aFailedStepsBlocksAreKeptOutOfTheCache() {
        KvBlockManager m = manager(8);
        int a = filled(m, ids(0, 8));
        m.forgetContents(a);
        m.freeSequence(a);
        assertThat(m.cachedPrefixLength(ids(0, 9))).isZero();
        assertThat(m.cachedFreeBlocks()).isZero();
    }

    @Test
    void tokensAppendedByCountAloneAreNeverCached() {
        KvBlockManager m = manager(8);
        int a = m.openSequence();
        m.append(a, 8);
        assertThat(m.cachedPrefixLength(new int[9])).isZero();
    }

    @Test
    void reuseNeedsAnEmptySequence() {
        KvBlockManager m = manager(8);
        filled(m, ids(0, 8));
        int b = filled(m, ids(50, 1));
        assertThatThrownBy(() -> m.reuseCachedPrefix(b, ids(0, 9))).hasMessageContaining("already holds 1");
    }
}

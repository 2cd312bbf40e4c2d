package qwenchat.engine.kv;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.KvCacheFullException;

class KvBlockManagerTest {

    private static KvBlockManager manager(int sequences, int maxTokens, int blockSize, int blocks) {
        return new KvBlockManager(new KvCacheCapacity(sequences, maxTokens, blockSize, blocks));
    }

    @Test
    void aSequenceTakesBlocksOnlyAsItsTokensFillThem() {
        KvBlockManager m = manager(2, 100, 4, 10);
        int s = m.openSequence();
        assertThat(m.blockIds(s)).isEmpty();
        m.append(s, 5);
        assertThat(m.blockIds(s)).hasSize(2);
        m.append(s, 3);
        assertThat(m.blockIds(s)).hasSize(2);
        m.append(s, 1);
        assertThat(m.blockIds(s)).hasSize(3);
        assertThat(m.sequenceLength(s)).isEqualTo(9);
        assertThat(m.freeBlocks()).isEqualTo(7);
    }

    @Test
    void thePositionsBlockAndSlotFollowTheBlockTable() {
        KvBlockManager m = manager(2, 100, 3, 10);
        int a = m.openSequence();
        int b = m.openSequence();
        m.append(a, 3);
        m.append(b, 3);
        m.append(a, 2);
        BlockTable t = m.table(a);
        assertThat(m.blockIds(a)).containsExactly(0, 2);
        assertThat(t.block(4)).isEqualTo(2);
        assertThat(t.offset(4)).isEqualTo(1);
        assertThat(t.block(0)).isEqualTo(0);
        assertThatThrownBy(() -> t.block(6)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void freeingASequenceReturnsItsBlocksAndItsIdIsReused() {
        KvBlockManager m = manager(2, 100, 4, 10);
        int a = m.openSequence();
        int b = m.openSequence();
        assertThatThrownBy(m::openSequence).isInstanceOf(KvCacheFullException.class).hasMessageContaining("all 2");
        m.append(a, 17);
        assertThat(m.freeBlocks()).isEqualTo(5);
        m.freeSequence(a);
        m.freeSequence(a); // a no-op the second time
        assertThat(m.freeBlocks()).isEqualTo(10);
        assertThat(m.openSequenceCount()).isEqualTo(1);
        assertThat(m.openSequence()).isEqualTo(a);
        assertThat(m.sequenceLength(a)).isZero();
        assertThat(m.isOpen(b)).isTrue();
    }

    @Test
    void aStepThatDoesNotFitThrowsNamingTheNumbersAndChangesNothing() {
        KvBlockManager m = manager(3, 100, 4, 5);
        int a = m.openSequence();
        int b = m.openSequence();
        m.append(a, 12); // 3 blocks, 2 free
        assertThatThrownBy(() -> m.appendAll(new int[] {a, b}, new int[] {1, 8}))
                .isInstanceOf(KvCacheFullException.class)
                .hasMessageContaining("3 more KV blocks of 4 tokens")
                .hasMessageContaining("only 2 of 5 are free");
        assertThat(m.sequenceLength(a)).isEqualTo(12);
        assertThat(m.sequenceLength(b)).isZero();
        assertThat(m.freeBlocks()).isEqualTo(2);
        assertThat(m.canAppend(b, 8)).isTrue();
        assertThat(m.canAppend(b, 9)).isFalse();
        m.appendAll(new int[] {a, b}, new int[] {0, 8});
        assertThat(m.freeBlocks()).isZero();
    }

    @Test
    void aSequenceCannotGrowPastTheTokensPerSequenceLimit() {
        KvBlockManager m = manager(1, 10, 4, 100);
        int s = m.openSequence();
        m.append(s, 10);
        assertThatThrownBy(() -> m.append(s, 1)).isInstanceOf(KvCacheFullException.class)
                .hasMessageContaining("would hold 11 tokens, over the KV cache's 10 tokens per sequence");
        assertThat(m.canAppend(s, 1)).isFalse();
    }

    @Test
    void aSequenceTwiceInOneStepOrOneNotOpenIsRefused() {
        KvBlockManager m = manager(2, 10, 4, 10);
        int s = m.openSequence();
        assertThatThrownBy(() -> m.appendAll(new int[] {s, s}, new int[] {1, 1})).hasMessageContaining("twice");
        assertThatThrownBy(() -> m.append(1, 1)).hasMessageContaining("sequence 1 is not open");
    }

    @Test
    void usageAndBlocksForCountWholeBlocks() {
        KvBlockManager m = manager(2, 100, 16, 10);
        assertThat(m.blocksFor(0)).isZero();
        assertThat(m.blocksFor(16)).isEqualTo(1);
        assertThat(m.blocksFor(17)).isEqualTo(2);
        int s = m.openSequence();
        m.append(s, 17);
        assertThat(m.usage().usedBlocks()).isEqualTo(2);
        assertThat(m.usage().totalTokens()).isEqualTo(160);
        assertThat(m.blocksNeeded(s, 15)).isZero();
        assertThat(m.blocksNeeded(s, 16)).isEqualTo(1);
    }
}

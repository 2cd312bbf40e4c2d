package qwenchat.engine.kv;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class KvBlockPoolTest {

    @Test
    void handsOutEveryIdOnceAndTakesThemBack() {
        KvBlockPool pool = new KvBlockPool(3, 16);
        assertThat(new int[] {pool.allocate(), pool.allocate(), pool.allocate()}).containsExactly(0, 1, 2);
        assertThat(pool.freeBlocks()).isZero();
        assertThat(pool.usedBlocks()).isEqualTo(3);
        assertThatThrownBy(pool::allocate).hasMessageContaining("all 3 KV blocks");
        pool.free(1);
        assertThat(pool.freeBlocks()).isEqualTo(1);
        assertThat(pool.allocate()).isEqualTo(1);
    }

    @Test
    void freeingABlockTwiceOrOutsideThePoolIsRefused() {
        KvBlockPool pool = new KvBlockPool(2, 4);
        int b = pool.allocate();
        pool.free(b);
        assertThatThrownBy(() -> pool.free(b)).hasMessageContaining("not allocated");
        assertThatThrownBy(() -> pool.free(2)).hasMessageContaining("outside the pool 0..1");
    }

    @Test
    void anEmptyPoolOrZeroBlockSizeIsRefusedByName() {
        assertThatThrownBy(() -> new KvBlockPool(0, 16)).hasMessageContaining("totalBlocks");
        assertThatThrownBy(() -> new KvBlockPool(4, 0)).hasMessageContaining("blockSize");
    }
}

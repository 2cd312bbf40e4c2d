package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Launch geometry and argument checks of {@link PrefillAttention}; no GPU needed. */
class PrefillAttentionShapeTest {
    @Test
    void fusedQkvStridesForQwen7b() {
        PrefillAttention.Strides s = PrefillAttention.Strides.fusedQkv(28, 4);
        assertEquals(4608, s.qToken());
        assertEquals(128, s.qHead());
        assertEquals(3584, s.outToken());
        assertEquals(128, s.outHead());
    }

    @Test
    void oneBlockPer64QueryRows() {
        assertEquals(1, PrefillAttention.blocksX(1));
        assertEquals(1, PrefillAttention.blocksX(64));
        assertEquals(2, PrefillAttention.blocksX(65));
        assertEquals(128, PrefillAttention.blocksX(8192));
    }

    @Test
    void rejectsStrideThatBreaks16ByteRows() {
        var e = assertThrows(IllegalArgumentException.class, () -> new PrefillAttention.Strides(4608, 100, 3584, 128));
        assertTrue(e.getMessage().contains("stride qHead must be a non-negative multiple of 8 elements, got 100"), e.getMessage());
    }

    @Test
    void rejectsQueryHeadsNotAMultipleOfKvHeads() {
        var e = assertThrows(IllegalArgumentException.class, () -> PrefillAttention.checkShape(10, 0, 28, 5));
        assertTrue(e.getMessage().contains("qHeads (28) must be a positive multiple of kvHeads (5)"), e.getMessage());
    }

    @Test
    void rejectsEmptyChunkAndNegativePast() {
        assertThrows(IllegalArgumentException.class, () -> PrefillAttention.checkShape(0, 0, 28, 4));
        var e = assertThrows(IllegalArgumentException.class, () -> PrefillAttention.checkShape(5, -1, 28, 4));
        assertTrue(e.getMessage().contains("past must be >= 0, got -1"), e.getMessage());
    }
}

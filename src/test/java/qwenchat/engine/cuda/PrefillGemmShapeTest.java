package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Kernel choice, grid sizing and shape checks of {@link PrefillGemm}; no GPU needed. */
class PrefillGemmShapeTest {
    @Test
    void wgmmaOnlyOnComputeCapability90() {
        assertTrue(PrefillGemm.usesWgmma("9.0"));
        assertFalse(PrefillGemm.usesWgmma("8.0"));
        assertFalse(PrefillGemm.usesWgmma("8.9"));
        assertFalse(PrefillGemm.usesWgmma("10.0"), "sm_90a code does not run on newer majors");
    }

    @Test
    void choosesNarrowWgmmaTileForFewRowsAndSpecializedOtherwise() {
        assertSame(PrefillGemm.WGMMA_NARROW, PrefillGemm.choose(true, false, 1));
        assertSame(PrefillGemm.WGMMA_NARROW, PrefillGemm.choose(true, false, PrefillGemm.SMALL_M));
        assertSame(PrefillGemm.WGMMA_PLAIN, PrefillGemm.choose(true, false, PrefillGemm.SMALL_M + 1));
        assertSame(PrefillGemm.WGMMA_SWIGLU, PrefillGemm.choose(true, true, 1));
        assertSame(PrefillGemm.MMA_PLAIN, PrefillGemm.choose(false, false, 8192));
        assertSame(PrefillGemm.MMA_SWIGLU, PrefillGemm.choose(false, true, 8192));
    }

    @Test
    void batchInvariantPassesUseOneKernelPerOperationWhateverTheRowCount() {
        for (int m : new int[] {1, 16, PrefillGemm.SMALL_M, PrefillGemm.SMALL_M + 1, 8192}) {
            assertSame(PrefillGemm.WGMMA_PLAIN, PrefillGemm.choose(true, false, m, true), m + " rows");
            assertSame(PrefillGemm.WGMMA_SWIGLU, PrefillGemm.choose(true, true, m, true), m + " rows");
            assertSame(PrefillGemm.MMA_PLAIN, PrefillGemm.choose(false, false, m, true), m + " rows");
        }
    }

    @Test
    void gridCoversRaggedRowsAndColumns() {
        // 1024 rows x 4608 columns in 128 x 256 tiles: 8 x 18.
        assertEquals(8 * 18, PrefillGemm.WGMMA_PLAIN.blocks(1024, 4608));
        // one extra row needs a ninth row of tiles; 8 extra columns a nineteenth column of tiles
        assertEquals(9 * 19, PrefillGemm.WGMMA_PLAIN.blocks(1025, 4616));
        // swiglu blocks emit half their weight rows: 18944 outputs / 128 per block
        assertEquals(8 * 148, PrefillGemm.WGMMA_SWIGLU.blocks(1024, 18944));
        assertEquals(8 * 296, PrefillGemm.MMA_SWIGLU.blocks(1024, 18944));
    }

    @Test
    void rejectsInnerDimensionNotMultipleOf64() {
        var e = assertThrows(IllegalArgumentException.class, () -> PrefillGemm.checkShape("prefill linear", 4, 64, 100));
        assertTrue(e.getMessage().contains("k must be a positive multiple of 64, got 100"), e.getMessage());
    }

    @Test
    void rejectsOutputWidthNotMultipleOf8() {
        var e = assertThrows(IllegalArgumentException.class, () -> PrefillGemm.checkShape("prefill swiglu", 4, 100, 64));
        assertTrue(e.getMessage().startsWith("prefill swiglu: output width n"), e.getMessage());
    }

    @Test
    void rejectsEmptyRowCount() {
        var e = assertThrows(IllegalArgumentException.class, () -> PrefillGemm.checkShape("prefill linear", 0, 64, 64));
        assertTrue(e.getMessage().contains("m must be >= 1, got 0"), e.getMessage());
    }
}

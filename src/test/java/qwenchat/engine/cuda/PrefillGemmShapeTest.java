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
    void decodeWidthPassesSplitOverKToFillOneWaveOfSms() {
        // Qwen2.5-7B on 132 SMs. o_proj at 256 rows: 2 x 14 tiles, 4 parts of 14 k-tiles (112 blocks).
        assertEquals(4, PrefillGemm.splits(256, 3584, 3584, 132));
        // At 128 rows: 14 tiles, 9 would fit; 56 k-tiles in parts of 7 make 8 parts (112 blocks).
        assertEquals(8, PrefillGemm.splits(128, 3584, 3584, 132));
        // qkv at 256 rows: 36 tiles, 3 parts; down (k = 18944): 28 tiles, 4 parts of 74 k-tiles.
        assertEquals(3, PrefillGemm.splits(256, 4608, 3584, 132));
        assertEquals(4, PrefillGemm.splits(256, 3584, 18944, 132));
        // A 1K-token prefill chunk fills the SMs with its 8 x 14 tiles; lm_head never splits.
        assertEquals(1, PrefillGemm.splits(1024, 3584, 3584, 132));
        assertEquals(1, PrefillGemm.splits(256, 152064, 3584, 132));
        // Short k: no part gets fewer than MIN_K_TILES_PER_SPLIT k-tiles.
        assertEquals(2, PrefillGemm.splits(128, 256, 512, 132));
        assertEquals(1, PrefillGemm.splits(128, 256, 448, 132));
    }

    @Test
    void theSwigluTileIsTheOneWhoseRowOfTilesFillsWholeWaves() {
        // Qwen2.5-7B's 18944 outputs: 148 tiles of 128 take two waves of 132 SMs, 132 tiles of 144 one.
        assertSame(PrefillGemm.WGMMA_SWIGLU_WIDE, PrefillGemm.swigluTile(18944, 132));
        assertEquals(132, PrefillGemm.WGMMA_SWIGLU_WIDE.blocks(1, 18944));
        assertEquals(2 * 132, PrefillGemm.WGMMA_SWIGLU_WIDE.blocks(256, 18944));
        // On 114 SMs both take two waves, and the narrower tile streams fewer rows per wave.
        assertSame(PrefillGemm.WGMMA_SWIGLU, PrefillGemm.swigluTile(18944, 114));
        // Qwen2.5-0.5B (4864): 38 tiles of 128 fit one wave already.
        assertSame(PrefillGemm.WGMMA_SWIGLU, PrefillGemm.swigluTile(4864, 132));
        assertSame(PrefillGemm.WGMMA_SWIGLU, PrefillGemm.swigluTile(18944, 0), "no SM count: the 256-row tile");
    }

    @Test
    void splitPartsNeverOutgrowThePartBufferAndNoPartIsEmpty() {
        java.util.Random r = new java.util.Random(5);
        for (int i = 0; i < 20_000; i++) {
            int m = 1 + r.nextInt(4096);
            int n = 8 * (1 + r.nextInt(8192));
            int k = 64 * (1 + r.nextInt(400));
            int sms = 1 + r.nextInt(300);
            int s = PrefillGemm.splits(m, n, k, sms);
            String shape = m + "x" + n + "x" + k + " on " + sms + " SMs";
            assertTrue(s >= 1, shape);
            assertTrue((long) s * m * n <= PrefillGemm.partialFloats() || s == 1, shape + ": " + s + " parts overflow");
            int kTiles = k / PrefillGemm.TILE_K;
            int per = (kTiles + s - 1) / s;
            assertTrue((long) per * (s - 1) < kTiles, shape + ": last of " + s + " parts is empty");
        }
    }

    @Test
    void batchInvariantOrMmaSyncGemmsNeverSplit() {
        var parts = new jcuda.driver.CUdeviceptr();
        assertTrue(new PrefillGemm(null, null, true, false, 132, parts).splitsK());
        assertFalse(new PrefillGemm(null, null, true, true, 132, parts).splitsK(), "split count depends on the row count");
        assertFalse(new PrefillGemm(null, null, false, false, 132, parts).splitsK(), "only the wgmma kernel splits");
        assertFalse(new PrefillGemm(null, null, true, false, 132, null).splitsK());
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

package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Batch tiles, split-K sizing and shape checks of {@link SkinnyGemm}; no GPU needed. */
class SkinnyGemmShapeTest {
    @Test
    void batchTileRoundsRowsUpToSixteenAndWiderCallsRunSeveralSixtyFourRowTiles() {
        assertEquals(16, SkinnyGemm.batchTile(1));
        assertEquals(16, SkinnyGemm.batchTile(16));
        assertEquals(48, SkinnyGemm.batchTile(33));
        assertEquals(64, SkinnyGemm.batchTile(64));
        assertEquals(64, SkinnyGemm.batchTile(65));
        assertEquals(64, SkinnyGemm.batchTile(256));
        assertEquals(1, SkinnyGemm.batchTiles(1));
        assertEquals(1, SkinnyGemm.batchTiles(64));
        assertEquals(2, SkinnyGemm.batchTiles(65));
        assertEquals(4, SkinnyGemm.batchTiles(256));
    }

    @Test
    void thePartialBufferHoldsEverySplitShapeOnAnyDevice() {
        // splits * n * rows floats for every weight shape that splits, any SM count, any row count up to the sizing.
        int rows = 256;
        long have = SkinnyGemm.partialFloats(rows);
        long worst = 0;
        for (int sms : new int[] {20, 46, 84, 108, 132, 148, 160, 200}) {
            int resident = SkinnyGemm.residentBlocks(sms);
            for (int n = 8; n <= 40_000; n += n < 1024 ? 8 : 120) {
                for (int k = 64; k <= 32_768; k *= 2) {
                    int s = SkinnyGemm.splits(n, k, resident);
                    if (s > 1) worst = Math.max(worst, (long) s * n * rows);
                }
            }
        }
        assertTrue(worst <= have, "need " + worst + " floats, sized " + have);
        assertTrue(worst > have / 2, "the bound should be near the need: " + worst + " of " + have);
    }

    @Test
    void theTileCountersCoverEveryBatchTileAndWeightTileOfASplitShape() {
        // The kernel's counter index is batchTile * weightTiles + weightTile, for shapes that split.
        int rows = 256;
        long have = SkinnyGemm.counterInts(rows);
        long worst = 0;
        for (int sms : new int[] {20, 132, 160, 400}) {
            int resident = SkinnyGemm.residentBlocks(sms);
            for (int n = 8; n <= 200_000; n += 8) {
                if (SkinnyGemm.splits(n, 4096, resident) > 1) {
                    long tiles = (n + SkinnyGemm.TILE_W - 1) / SkinnyGemm.TILE_W;
                    worst = Math.max(worst, (long) SkinnyGemm.batchTiles(rows) * tiles);
                }
            }
        }
        assertTrue(worst <= have, "need " + worst + " counters, sized " + have);
        assertEquals(have, worst, "sized for exactly the widest split shape");
    }

    @Test
    void aDeviceBeyondTheSizedSmCountSplitsLikeTheLargestSizedOne() {
        assertEquals(SkinnyGemm.residentBlocks(SkinnyGemm.MAX_MULTIPROCESSORS), SkinnyGemm.residentBlocks(1000));
        assertEquals(132 * SkinnyGemm.BLOCKS_PER_SM, SkinnyGemm.residentBlocks(132));
    }

    @Test
    void splitKFillsTheResidentBlocksWithoutASecondWave() {
        // 7B shapes: qkv 36 tiles, o_proj/down 28 tiles, lm_head 1188 tiles.
        int[][] shapes = {{4608, 3584}, {3584, 3584}, {3584, 18944}, {152064, 3584}};
        for (int[] s : shapes) {
            int tiles = (s[0] + 127) / 128;
            int splits = SkinnyGemm.splits(s[0], s[1], SkinnyGemm.H200_RESIDENT_BLOCKS);
            int chunks = s[1] / 64;
            int per = (chunks + splits - 1) / splits;
            assertTrue(tiles * splits <= Math.max(tiles, SkinnyGemm.H200_RESIDENT_BLOCKS), s[0] + "x" + s[1] + ": " + splits + " splits");
            assertEquals(splits, (chunks + per - 1) / per, "no empty split part for " + s[0] + "x" + s[1]);
            assertTrue(per >= SkinnyGemm.MIN_CHUNKS_PER_SPLIT || splits == 1, "split parts too short for " + s[0] + "x" + s[1]);
        }
        assertEquals(7, SkinnyGemm.splits(4608, 3584, SkinnyGemm.H200_RESIDENT_BLOCKS));
        assertEquals(8, SkinnyGemm.splits(3584, 3584, SkinnyGemm.H200_RESIDENT_BLOCKS));
        assertEquals(9, SkinnyGemm.splits(3584, 18944, SkinnyGemm.H200_RESIDENT_BLOCKS));
        assertEquals(1, SkinnyGemm.splits(152064, 3584, SkinnyGemm.H200_RESIDENT_BLOCKS));
    }

    @Test
    void sharedMemoryAllowsTwoBlocksPerSm() {
        assertEquals(98304, SkinnyGemm.sharedBytes(64));
        assertTrue(2 * (SkinnyGemm.sharedBytes(64) + 1024) <= 228 * 1024);
    }

    @Test
    void rejectsRowsPastThePartialBuffersCapacityAndRaggedK() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SkinnyGemm.checkShape("op", 257, 128, 64, 256));
        assertTrue(e.getMessage().contains("m must be 1..256, got 257"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SkinnyGemm.checkShape("op", 0, 128, 64, 256));
        assertTrue(e.getMessage().contains("got 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SkinnyGemm.checkShape("op", 16, 128, 100, 256));
        assertTrue(e.getMessage().contains("multiple of 64, got 100"), e.getMessage());
        SkinnyGemm.checkShape("op", 256, 128, 64, 256);
    }

    @Test
    void splitKFollowsTheDevicesSmCount() {
        // A GPU with fewer SMs has fewer resident blocks to fill, so it splits o_proj less.
        int h200 = SkinnyGemm.splits(3584, 3584, SkinnyGemm.H200_RESIDENT_BLOCKS);
        int small = SkinnyGemm.splits(3584, 3584, 46 * SkinnyGemm.BLOCKS_PER_SM);
        assertTrue(small < h200, small + " vs " + h200);
        assertEquals(3, small);
    }
}

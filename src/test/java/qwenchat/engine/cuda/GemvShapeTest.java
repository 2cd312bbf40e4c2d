package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The batch-1..8 GEMV's K split, without a GPU. */
class GemvShapeTest {
    static final int H = 3584;

    static int split(int k, int tile, int warps, boolean on) {
        return GemvShape.splitsK(k / 8, tile, warps, on);
    }

    @Test
    void everySevenBMatrixSplitsOverFourWarpsAtBatchesUpToEight() {
        for (int tile = 1; tile <= GemvShape.MAX_SPLIT_TILE; tile *= 2) {
            assertEquals(4, split(H, tile, 4, true), "qkv in blocks of 4 warps, tile " + tile);
            assertEquals(4, split(H, tile, 8, true), "o_proj, gate/up, lm_head over K 3,584, tile " + tile);
            assertEquals(4, split(18944, tile, 8, true), "down_proj over K 18,944, tile " + tile);
        }
    }

    @Test
    void noSplitWhenOffOrForTilesWiderThanTheSplitKernels() {
        assertEquals(1, split(H, 1, 8, false));
        assertEquals(1, split(H, 16, 8, true));
    }

    @Test
    void theSplitKeepsTwoWordsOfKPerLaneAndDividesTheBlocksWarps() {
        assertEquals(1, split(896, 1, 8, true), "0.5B: 112 words a row");
        assertEquals(2, split(8 * 128, 1, 8, true), "128 words a row: 2 warps of 2 words a lane");
        assertEquals(4, split(8 * 256, 1, 8, true), "256 words a row: 4 warps of 2");
        assertEquals(2, split(H, 1, 2, true), "blocks of 2 warps split in 2 at most");
        assertEquals(1, split(H, 1, 1, true));
    }
}

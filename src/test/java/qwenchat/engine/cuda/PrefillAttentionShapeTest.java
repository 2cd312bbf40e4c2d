package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import qwenchat.engine.cuda.PrefillAttention.Tile;

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
    void theSixteenRowTileLaunchesOneBlockPer64QueryRows() {
        assertEquals(1, PrefillAttention.blocksX(1, Tile.ROWS16));
        assertEquals(1, PrefillAttention.blocksX(64, Tile.ROWS16));
        assertEquals(2, PrefillAttention.blocksX(65, Tile.ROWS16));
        assertEquals(128, PrefillAttention.blocksX(8192, Tile.ROWS16));
    }

    @Test
    void theThirtyTwoRowTileLaunchesOneBlockPer128QueryRows() {
        assertEquals(1, PrefillAttention.blocksX(1, Tile.ROWS32));
        assertEquals(1, PrefillAttention.blocksX(64, Tile.ROWS32));
        assertEquals(1, PrefillAttention.blocksX(128, Tile.ROWS32));
        assertEquals(2, PrefillAttention.blocksX(129, Tile.ROWS32));
        assertEquals(64, PrefillAttention.blocksX(8192, Tile.ROWS32));
        assertEquals(65, PrefillAttention.blocksX(8193, Tile.ROWS32));
    }

    /** Four warps of 16 or 32 query rows. */
    @ParameterizedTest
    @EnumSource(Tile.class)
    void everyTileRunsFourWarpsOfItsRowsPerBlock(Tile t) {
        assertEquals(128, Tile.THREADS);
        assertEquals(t == Tile.ROWS16 ? 64 : 128, t.rowsPerBlock);
    }

    /** The Q tile of the block's rows plus two buffers each of a 64-key K and V tile, 256 bytes a row. */
    @ParameterizedTest
    @EnumSource(Tile.class)
    void sharedBytesHoldTheQueryTileAndDoubleBufferedKeyAndValueTiles(Tile t) {
        int rowBytes = PrefillAttention.HEAD_DIM * 2;
        assertEquals(t.rowsPerBlock * rowBytes + 2 * 2 * 64 * rowBytes, t.sharedBytes);
        assertEquals(t == Tile.ROWS16 ? 81920 : 98304, t.sharedBytes);
    }

    @Test
    void theTwoTilesRunDifferentKernels() {
        assertEquals("prefill_attention_causal_hd128", Tile.ROWS16.kernel);
        assertEquals("prefill_attention_causal_hd128_m32", Tile.ROWS32.kernel);
    }

    /** A launch with more threads than the kernel's bound fails on the device only; this catches it here. */
    @ParameterizedTest
    @EnumSource(Tile.class)
    void everyTilesKernelIsBuiltForItsThreadsPerBlock(Tile t) throws IOException {
        String src = Files.readString(Path.of("src/main/cuda/prefill_attention.cu"));
        String decl = "__launch_bounds__(" + Tile.THREADS + ") " + t.kernel + "(PREFILL_ATTN_PARAMS)";
        assertTrue(src.contains(decl), "prefill_attention.cu declares no " + decl);
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

    @Test
    void chunksFromTwoThousandTokensTakeTheThirtyTwoRowTileAndShorterOnesTheSixteenRowTile() {
        PrefillAttention.Tiles d = PrefillAttention.Tiles.DEFAULT;
        assertEquals(Tile.ROWS16, d.forTokens(1));
        assertEquals(Tile.ROWS16, d.forTokens(1792));
        assertEquals(Tile.ROWS16, d.forTokens(2047));
        assertEquals(Tile.ROWS32, d.forTokens(2048));
        assertEquals(Tile.ROWS32, d.forTokens(8192));
        for (Tile t : Tile.values()) {
            for (int tokens : new int[] {1, 1000, 8192}) assertEquals(t, PrefillAttention.Tiles.only(t).forTokens(tokens));
        }
        var e = assertThrows(IllegalArgumentException.class, () -> new PrefillAttention.Tiles(0));
        assertTrue(e.getMessage().contains("rows32From must be >= 1, got 0"), e.getMessage());
    }
}

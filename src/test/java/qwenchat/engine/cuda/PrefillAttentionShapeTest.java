package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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

    /** Four warps of 16 or 32 query rows; the warpgroup tile's loader and two warpgroups of 64 rows. */
    @ParameterizedTest
    @EnumSource(Tile.class)
    void everyTileRunsFourWarpsOfItsRowsOrThreeWarpgroupsPerBlock(Tile t) {
        assertEquals(t.wgmma() ? 384 : 128, t.threads);
        assertEquals(t == Tile.ROWS16 ? 64 : 128, t.rowsPerBlock);
    }

    /** The Q tile of the block's rows plus two buffers each of a 64-key K and V tile, 256 bytes a row. */
    @ParameterizedTest
    @EnumSource(value = Tile.class, names = {"ROWS16", "ROWS32"})
    void sharedBytesHoldTheQueryTileAndDoubleBufferedKeyAndValueTiles(Tile t) {
        int rowBytes = PrefillAttention.HEAD_DIM * 2;
        assertEquals(t.rowsPerBlock * rowBytes + 2 * 2 * 64 * rowBytes, t.sharedBytes);
        assertEquals(t == Tile.ROWS16 ? 81920 : 98304, t.sharedBytes);
    }

    /**
     * The warpgroup tile: 1 KB to align its tiles to 1024 bytes, the 128-row Q tile, the kernel's STAGES
     * ring stages of a 64-key K and V tile, and 256 bytes of mbarriers; the stage count is the kernel's.
     */
    @Test
    void theWarpgroupTilesSharedBytesHoldItsRingOfStagesAsTheKernelCountsThem() throws IOException {
        String src = Files.readString(Path.of("src/main/cuda/prefill_attention_sm90.cu"));
        Matcher m = Pattern.compile("constexpr int STAGES = (\\d+);").matcher(src);
        assertTrue(m.find(), "prefill_attention_sm90.cu declares no STAGES");
        assertEquals(Integer.parseInt(m.group(1)), PrefillAttention.WGMMA_STAGES);
        assertTrue(src.contains("constexpr int SHARED_BYTES = 1024 + 2 * Q_HALF + STAGES * STAGE_BYTES + 256;"),
                "the kernel's shared layout changed: update Tile.WGMMA.sharedBytes with it");
        int rowBytes = PrefillAttention.HEAD_DIM * 2;
        assertEquals(1024 + 128 * rowBytes + PrefillAttention.WGMMA_STAGES * 2 * 64 * rowBytes + 256, Tile.WGMMA.sharedBytes);
        assertTrue(Tile.WGMMA.sharedBytes <= 227 * 1024, "over the sm_90 shared memory limit: " + Tile.WGMMA.sharedBytes);
    }

    @Test
    void theTilesRunDifferentKernels() {
        assertEquals("prefill_attention_causal_hd128", Tile.ROWS16.kernel);
        assertEquals("prefill_attention_causal_hd128_m32", Tile.ROWS32.kernel);
        assertEquals("prefill_attention_causal_hd128_wgmma", Tile.WGMMA.kernel);
        assertEquals("prefill_attention_causal_hd128_wgmma_pp", Tile.WGMMA_PINGPONG.kernel);
        assertEquals(Tile.WGMMA.sharedBytes, Tile.WGMMA_PINGPONG.sharedBytes, "one kernel body, two issue orders");
    }

    /** A launch with more threads than the kernel's bound fails on the device only; this catches it here. */
    @ParameterizedTest
    @EnumSource(Tile.class)
    void everyTilesKernelIsBuiltForItsThreadsPerBlock(Tile t) throws IOException {
        String file = t.wgmma() ? "prefill_attention_sm90.cu" : "prefill_attention.cu";
        String src = Files.readString(Path.of("src/main/cuda/" + file));
        String decl = t.wgmma() ? "__launch_bounds__(" + t.threads + ", 1) " + t.kernel + "(PREFILL_ATTN_SM90_PARAMS)"
                : "__launch_bounds__(" + t.threads + ") " + t.kernel + "(PREFILL_ATTN_PARAMS)";
        assertTrue(src.contains(decl), file + " declares no " + decl);
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
    void onHopperChunksFromOneThousandTokensTakeTheWarpgroupTileElsewhereFromTwoThousandTheThirtyTwoRowTile() {
        PrefillAttention.Tiles d = PrefillAttention.Tiles.DEFAULT;
        for (boolean wgmma : new boolean[] {false, true}) {
            assertEquals(Tile.ROWS16, d.forTokens(1, wgmma));
            assertEquals(Tile.ROWS16, d.forTokens(1023, wgmma));
        }
        assertEquals(Tile.ROWS16, d.forTokens(1024, false));
        assertEquals(Tile.ROWS16, d.forTokens(2047, false));
        assertEquals(Tile.ROWS32, d.forTokens(2048, false));
        assertEquals(Tile.ROWS32, d.forTokens(8192, false));
        assertEquals(Tile.WGMMA_PINGPONG, d.forTokens(1024, true));
        assertEquals(Tile.WGMMA_PINGPONG, d.forTokens(2048, true));
        assertEquals(Tile.WGMMA_PINGPONG, d.forTokens(8192, true));
        assertEquals(Tile.WGMMA, new PrefillAttention.Tiles(2048, 1024, Tile.WGMMA).forTokens(8192, true));
        for (Tile t : Tile.values()) {
            for (int tokens : new int[] {1, 1000, 8192}) assertEquals(t, PrefillAttention.Tiles.only(t).forTokens(tokens, true));
        }
        // Without Hopper's MMAs the warpgroup tile falls back to the one every card runs.
        assertEquals(Tile.ROWS16, PrefillAttention.Tiles.only(Tile.WGMMA).forTokens(8192, false));
        var e = assertThrows(IllegalArgumentException.class, () -> new PrefillAttention.Tiles(0, 1));
        assertTrue(e.getMessage().contains("rows32From must be >= 1, got 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new PrefillAttention.Tiles(1, 0));
        assertTrue(e.getMessage().contains("wgmmaFrom must be >= 1, got 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new PrefillAttention.Tiles(1, 1, Tile.ROWS32));
        assertTrue(e.getMessage().contains("the warpgroup tile must be a wgmma one, got ROWS32"), e.getMessage());
    }
}

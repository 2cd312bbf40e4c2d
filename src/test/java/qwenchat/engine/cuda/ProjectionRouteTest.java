package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static qwenchat.engine.cuda.ProjectionRoute.GEMV;
import static qwenchat.engine.cuda.ProjectionRoute.PREFILL_GEMM;
import static qwenchat.engine.cuda.ProjectionRoute.SKINNY;

import org.junit.jupiter.api.Test;

/** Which kernel family runs a pass's projections, with batch invariance on and off; no GPU needed. */
class ProjectionRouteTest {
    static final int[] WIDTHS = {1, 2, 15, 16, 17, 32, 63, 64, 65, 100, 128, 255, 256};

    @Test
    void batchInvariantDecodeAndLogitsTakeTheSkinnyGemmAtEveryWidth() {
        for (int rows : WIDTHS) {
            assertEquals(SKINNY, ProjectionRoute.of(rows, false, true, true, true), rows + " decode rows");
        }
    }

    @Test
    void batchInvariantPrefillChunksTakeThePrefillGemmAtEveryLength() {
        for (int rows : WIDTHS) {
            assertEquals(PREFILL_GEMM, ProjectionRoute.of(rows, true, true, true, true), rows + "-row chunk");
        }
        assertEquals(PREFILL_GEMM, ProjectionRoute.of(8192, true, true, true, true));
    }

    @Test
    void batchInvariantWithoutTheSkinnyGemmDecodesThroughThePrefillGemmAtEveryWidth() {
        for (int rows : WIDTHS) {
            assertEquals(PREFILL_GEMM, ProjectionRoute.of(rows, false, true, true, false), rows + " decode rows");
        }
    }

    @Test
    void withoutInvarianceTheRowCountPicksTheFastestFamily() {
        for (boolean prefill : new boolean[] {false, true}) {
            assertEquals(GEMV, ProjectionRoute.of(1, prefill, false, true, true));
            assertEquals(GEMV, ProjectionRoute.of(ForwardPass.GEMM_MIN_ROWS - 1, prefill, false, true, true));
            assertEquals(SKINNY, ProjectionRoute.of(ForwardPass.GEMM_MIN_ROWS, prefill, false, true, true));
            assertEquals(SKINNY, ProjectionRoute.of(SkinnyGemm.MAX_ROWS, prefill, false, true, true));
            assertEquals(PREFILL_GEMM, ProjectionRoute.of(SkinnyGemm.MAX_ROWS + 1, prefill, false, true, true));
            assertEquals(PREFILL_GEMM, ProjectionRoute.of(32, prefill, false, true, false), "skinny switched off");
        }
    }

    @Test
    void skinnyPassesFrom17RowsTakeTheirSwigluFromTheOneWaveGemmTileUnlessInvariant() {
        assertFalse(ProjectionRoute.swigluOnGemm(16, false, true), "16 rows: the skinny swiglu is as fast");
        assertTrue(ProjectionRoute.swigluOnGemm(17, false, true));
        assertTrue(ProjectionRoute.swigluOnGemm(SkinnyGemm.MAX_ROWS, false, true));
        assertFalse(ProjectionRoute.swigluOnGemm(SkinnyGemm.MAX_ROWS, true, true), "decode rows keep one family when invariant");
        assertFalse(ProjectionRoute.swigluOnGemm(SkinnyGemm.MAX_ROWS, false, false), "only the one-wave tile was measured faster");
    }

    @Test
    void withoutTheTensorCoreGemmsEveryPassIsGemv() {
        for (int rows : WIDTHS) {
            for (boolean invariant : new boolean[] {false, true}) {
                assertEquals(GEMV, ProjectionRoute.of(rows, false, invariant, false, false));
                assertEquals(GEMV, ProjectionRoute.of(rows, true, invariant, false, false));
            }
        }
    }

    @Test
    void aPassWithoutRowsIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ProjectionRoute.of(0, false, true, true, true));
        assertEquals("a pass needs at least one row, got 0", e.getMessage());
    }
}

package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AttentionSplitsTest {
    static final int SMS = 132;
    static final int KV = 4;

    @Test
    void withoutSpansEveryBlockTakesOneTileAndTheCombineFinishes() {
        AttentionSplits p = AttentionSplits.plan(false, true, 256, KV, 1024, SMS);
        assertEquals(new AttentionSplits(64, 16, false), p);
        // Even a row that fits one tile goes through the combine: the one-tile kernels have no direct output.
        assertEquals(new AttentionSplits(64, 1, false), AttentionSplits.plan(false, true, 1, KV, 40, SMS));
    }

    @Test
    void onlyTheTensorCoreKernelsWithoutBatchInvarianceTakeSpans() {
        DecodeKernels d = DecodeKernels.defaults().withMmaAttention(true).withAttentionSpans(true);
        assertEquals(new AttentionSplits(1024, 1, true), AttentionSplits.plan(d, false, 256, KV, 1000, SMS));
        AttentionSplits tiles = AttentionSplits.tiles(1000);
        assertEquals(tiles, AttentionSplits.plan(d, true, 256, KV, 1000, SMS), "batch invariance");
        assertEquals(tiles, AttentionSplits.plan(d.withAttentionSpans(false), false, 256, KV, 1000, SMS), "switch off");
        assertEquals(tiles, AttentionSplits.plan(d.withMmaAttention(false), false, 256, KV, 1000, SMS), "CUDA-core kernels");
        DecodeKernels fused = new DecodeKernels(true, true, true, true, true, true, true, true, true, true);
        assertEquals(tiles, AttentionSplits.plan(fused, false, 256, KV, 1000, SMS), "fused combine");
        // A fixed span is direct only where it covers the rows and the kernels can write them.
        assertEquals(new AttentionSplits(1024, 1, true), AttentionSplits.ofSpan(1024, 1000, d));
        assertEquals(new AttentionSplits(1024, 1, false), AttentionSplits.ofSpan(1024, 1000, d.withMmaAttention(false)));
        assertEquals(new AttentionSplits(256, 4, false), AttentionSplits.ofSpan(256, 1000, d));
    }

    @ParameterizedTest(name = "{0} tokens -> span {1}")
    @CsvSource({"1, 64", "64, 64", "65, 128", "130, 256", "256, 256", "257, 512", "512, 512"})
    void withDirectShortRowsAShortContextGoesAsOneBlockARowWhateverTheWidth(int length, int span) {
        for (int rows : new int[] {1, 256}) {
            AttentionSplits p = AttentionSplits.plan(true, true, rows, KV, length, SMS);
            assertEquals(new AttentionSplits(span, 1, true), p, rows + " rows");
        }
    }

    @ParameterizedTest(name = "{0} rows of {1} tokens -> {2}")
    @CsvSource({"1, 130, '64, 3, false'", "1, 512, '64, 8, false'", "1, 64, '64, 1, true'", "16, 300, '128, 3, false'",
            "64, 300, '512, 1, true'", "256, 200, '256, 1, true'"})
    void withoutDirectShortRowsAShortContextFollowsTheSpanRule(int rows, int length, String plan) {
        String[] f = plan.split(", ");
        AttentionSplits expected = new AttentionSplits(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Boolean.parseBoolean(f[2]));
        assertEquals(expected, AttentionSplits.plan(true, false, rows, KV, length, SMS));
        DecodeKernels d = DecodeKernels.defaults().withMmaAttention(true).withAttentionSpans(true).withDirectShortRows(false);
        assertEquals(expected, AttentionSplits.plan(d, false, rows, KV, length, SMS), "through the decode kernels' switch");
    }

    @ParameterizedTest(name = "{0} rows of {1} tokens -> span {2}")
    @CsvSource({"1, 8192, 128", "1, 1024, 64", "1, 513, 64", "4, 8192, 512", "16, 1024, 256", "32, 1024, 512",
            "64, 1024, 1024", "128, 1024, 1024", "256, 1024, 1024", "64, 1030, 2048", "256, 1030, 2048", "256, 8192, 4096",
            "64, 8192, 4096"})
    void spansGrowWhileTheLaunchKeepsAWaveOfBlocks(int rows, int length, int span) {
        AttentionSplits p = AttentionSplits.plan(true, true, rows, KV, length, SMS);
        assertEquals(span, p.span());
        long blocks = (long) rows * KV * p.grid();
        long wanted = (long) AttentionSplits.BLOCKS_PER_MULTIPROCESSOR * SMS;
        assertTrue(p.span() == AttentionSplits.TILE || blocks >= wanted, "a grown span left " + blocks + " blocks");
        boolean couldGrow = p.span() < AttentionSplits.MAX_SPAN && p.span() < length
                && (long) rows * KV * ((length + 2L * p.span() - 1) / (2L * p.span())) >= wanted;
        assertFalse(couldGrow, "span " + p.span() + " could have doubled");
        assertTrue((long) p.span() * p.grid() >= length, "the grid covers the longest row");
        assertEquals(p.grid() == 1, p.direct());
    }

    @Test
    void aWideBatchWhoseRowsFitTheLongestSpanIsFinishedWithoutTheCombine() {
        // 256 rows of 1K: 1024-token spans still leave 1024 blocks.
        AttentionSplits p = AttentionSplits.plan(true, true, 256, KV, 1000, SMS);
        assertEquals(new AttentionSplits(1024, 1, true), p);
    }

    @Test
    void graphBucketsRoundTheGridUpToAPowerOfTwoWithinTheBuffers() {
        assertEquals(new AttentionSplits(256, 8, false), new AttentionSplits(256, 5, false).bucketed(128));
        assertEquals(new AttentionSplits(64, 100, false), new AttentionSplits(64, 100, false).bucketed(100));
        AttentionSplits direct = new AttentionSplits(512, 1, true);
        assertSame(direct, direct.bucketed(16));
    }

    @Test
    void badPlansNameWhatIsWrong() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new AttentionSplits(96, 1, false)).getMessage()
                .contains("power-of-two multiple of 64"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new AttentionSplits(64, 0, false)).getMessage()
                .contains("grid"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new AttentionSplits(64, 2, true)).getMessage()
                .contains("one span a row"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AttentionSplits.plan(true, true, 1, KV, 0, SMS)).getMessage()
                .contains("length"));
    }
}

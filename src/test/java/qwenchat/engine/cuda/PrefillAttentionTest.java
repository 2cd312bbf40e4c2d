package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static qwenchat.engine.cuda.DeviceData.*;

import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import qwenchat.engine.cuda.PrefillAttention.Tile;

/**
 * Prefill attention against a double-precision Java causal GQA attention at Qwen2.5-7B head counts,
 * reading Q from fused qkv rows and K/V from paged pools through one sequence's row of a shuffled
 * block table; blocks no sequence owns, and the other sequence's, hold random data the kernel must
 * not see.
 */
@Tag("gpu")
class PrefillAttentionTest {
    static final int Q_HEADS = 28;
    static final int KV_HEADS = 4;
    static final int HD = PrefillAttention.HEAD_DIM;

    static CudaContext ctx;
    static KernelModule module;
    /** Whether this card runs the warpgroup tile (compute capability 9.0); its tests are skipped elsewhere. */
    static boolean wgmma;

    @BeforeAll
    static void load() {
        ctx = GpuTestSupport.context();
        module = ctx.call(KernelModule::load);
        wgmma = PrefillGemm.usesWgmma(ctx.computeCapability());
    }

    static void assumeTileRuns(Tile tile) {
        assumeTrue(!tile.wgmma() || wgmma, "the warpgroup tile needs compute capability 9.0, this card is " + ctx.computeCapability());
    }

    @AfterAll
    static void unload() {
        if (module != null) ctx.run(module::close);
    }

    /** out[i][h][d] for query i at position past+i over keys 0..past+i, in double. */
    static double[] reference(float[] qkv, float[] kc, float[] vc, PagedLayout kv, int seq, int tokens, int past) {
        int qkvWidth = (Q_HEADS + 2 * KV_HEADS) * HD;
        int group = Q_HEADS / KV_HEADS;
        double scale = 1 / Math.sqrt(HD);
        double[] out = new double[tokens * Q_HEADS * HD];
        IntStream.range(0, tokens * Q_HEADS).parallel().forEach(ih -> {
            int i = ih / Q_HEADS;
            int h = ih % Q_HEADS;
            int kvh = h / group;
            int keys = past + i + 1;
            double[] s = new double[keys];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < keys; j++) {
                double dot = 0;
                int at = (int) kv.offset(seq, kvh, j);
                for (int d = 0; d < HD; d++) dot += (double) qkv[i * qkvWidth + h * HD + d] * kc[at + d];
                s[j] = dot * scale;
                max = Math.max(max, s[j]);
            }
            double sum = 0;
            for (int j = 0; j < keys; j++) sum += s[j] = Math.exp(s[j] - max);
            for (int d = 0; d < HD; d++) {
                double acc = 0;
                for (int j = 0; j < keys; j++) acc += s[j] * vc[(int) kv.offset(seq, kvh, j) + d];
                out[(i * Q_HEADS + h) * HD + d] = acc / sum;
            }
        });
        return out;
    }

    /**
     * Chunks of one token, of fewer rows than either tile, not a multiple of 64 or 128 rows, or exactly
     * 128 and 256; with and without cached positions before them; block sizes that are multiples of the
     * 64-key tile (one lookup per tile) and sizes that are not (tiles straddling blocks).
     */
    static Stream<Arguments> chunks() {
        int[][] shapes = {{1, 0, 64}, {70, 0, 16}, {70, 130, 48}, {1, 400, 128}, {200, 311, 64}, {200, 311, 16},
            {129, 0, 1000}, {128, 0, 64}, {256, 37, 64}, {333, 70, 7}, {191, 65, 128}};
        return Stream.of(Tile.values()).flatMap(t -> Stream.of(shapes).map(c -> Arguments.of(t, c[0], c[1], c[2])));
    }

    /** Q, K and V for one chunk: fused qkv rows and shuffled paged pools, rounded to bf16. */
    record Operands(float[] qkv, PagedLayout kv, float[] kc, float[] vc) {
        static Operands random(Random r, int tokens, int past, int blockSize, int[] seqLengths) {
            int qkvWidth = (Q_HEADS + 2 * KV_HEADS) * HD;
            float[] qkv = roundBf16(gaussian(r, tokens * qkvWidth, 1.2));  // peaked enough that masking errors show
            PagedLayout kv = PagedLayout.shuffled(r, seqLengths, blockSize, KV_HEADS, HD, 3);
            float[] kc = roundBf16(gaussian(r, (int) kv.poolElements(), 1.0));
            float[] vc = roundBf16(gaussian(r, (int) kv.poolElements(), 1.0));
            return new Operands(qkv, kv, kc, vc);
        }
    }

    /** Runs each attention on the operands' sequence {@code seq} into its own NaN-poisoned output and reads them back. */
    static float[][] run(Operands in, int seq, int tokens, int past, PrefillAttention... attns) {
        PagedLayout kv = in.kv();
        long outElements = (long) tokens * Q_HEADS * HD;
        return ctx.call(() -> {
            try (DeviceBuffer dq = bf16("qkv", in.qkv()); DeviceBuffer dk = bf16("k pool", in.kc());
                 DeviceBuffer dv = bf16("v pool", in.vc()); DeviceBuffer dt = i32("block table", kv.table())) {
                DeviceBuffer[] outs = new DeviceBuffer[attns.length];
                try {
                    for (int i = 0; i < attns.length; i++) {
                        outs[i] = poisonedBf16("attn out " + i, outElements);
                        attns[i].causal(dq.ptr(), dk.ptr(), dv.ptr(), dt.at(4L * seq * kv.maxBlocksPerSeq), kv.blockSize,
                                outs[i].ptr(), PrefillAttention.Strides.fusedQkv(Q_HEADS, KV_HEADS), tokens, past, Q_HEADS,
                                KV_HEADS);
                    }
                    ctx.synchronize();
                    float[][] got = new float[attns.length][];
                    for (int i = 0; i < attns.length; i++) got[i] = readBf16(outs[i], (int) outElements);
                    return got;
                } finally {
                    for (DeviceBuffer b : outs) if (b != null) b.close();
                }
            }
        });
    }

    @ParameterizedTest(name = "{0} tokens={1} past={2} block size={3}")
    @MethodSource("chunks")
    void matchesCausalGqaAttentionOverPagedCacheAndChunk(Tile tile, int tokens, int past, int blockSize) {
        assumeTileRuns(tile);
        Random r = new Random(31L * tokens + past + blockSize);
        int seq = 1;  // row 1 of the table, so a kernel that ignored the row offset would read sequence 0's keys
        Operands in = Operands.random(r, tokens, past, blockSize, new int[] {257, past + tokens});
        double[] want = reference(in.qkv(), in.kc(), in.vc(), in.kv(), seq, tokens, past);
        float[] got = run(in, seq, tokens, past, new PrefillAttention(module, ctx.stream(), tile))[0];
        assertEquals(0, nanCount(got), "elements left unwritten (NaN)");
        double rel = relativeL2(got, want);
        System.out.printf("[prefill] %-52s relL2 %.3e%n", "attention " + tile + " tokens=" + tokens + " past=" + past + " block=" + blockSize, rel);
        assertTrue(rel < 1e-2, "relative L2 error " + rel);
    }

    /**
     * Each row sees the same 64-key tiles in the same order, at the same place in a 16-row MMA tile, with
     * the same mask, exp2 and bf16 rounding of P in both kernels. The only extra work of the 32-row tile,
     * the last key tile of a 128-row block for the block's first 64 rows, lies wholly after those rows:
     * fully masked, it leaves their running max, sum and output as they were. Chunks of fewer rows than
     * a block, of exactly one or two blocks and of a few rows more; with and without earlier positions.
     */
    @ParameterizedTest(name = "tokens={0} past={1} block size={2}")
    @CsvSource({"1, 0, 64", "64, 0, 64", "127, 0, 16", "128, 0, 64", "129, 0, 64", "333, 70, 64", "300, 1000, 48",
        "517, 9, 7", "1100, 130, 128"})
    void theThirtyTwoRowTileGivesEveryOutputBitOfTheSixteenRowTile(int tokens, int past, int blockSize) {
        Random r = new Random(17L * tokens + past + blockSize);
        Operands in = Operands.random(r, tokens, past, blockSize, new int[] {past + tokens, 90});
        float[][] got = run(in, 0, tokens, past, new PrefillAttention(module, ctx.stream(), Tile.ROWS16),
                new PrefillAttention(module, ctx.stream(), Tile.ROWS32));
        assertEquals(0, nanCount(got[0]), "elements left unwritten (NaN)");
        assertArrayEquals(got[0], got[1]);
    }

    /**
     * The warpgroup tile computes S and P.V with Hopper's wgmma instead of m16n8k16 MMAs, over the same
     * 64-key tiles with the same per-row softmax code; the MMAs add the same products in the same k
     * order, so the outputs match the sixteen-row tile's bit for bit. Chunks of fewer rows than a
     * block, of one or two blocks and a few rows more, longer than the ring of stages; with earlier
     * positions; block sizes of one, two and four key tiles (the loader walks whole tiles of those
     * without the table lookup a copy), and block sizes that are not multiples of the key tile.
     */
    static Stream<Arguments> warpgroupChunks() {
        int[][] shapes = {{1, 0, 64}, {64, 0, 64}, {127, 0, 16}, {128, 0, 64}, {129, 0, 64}, {333, 70, 64}, {300, 1000, 48},
            {517, 9, 7}, {1100, 130, 128}, {700, 300, 256}, {2100, 0, 64}, {2, 1, 64}};
        return Stream.of(Tile.WGMMA, Tile.WGMMA_PINGPONG)
                .flatMap(t -> Stream.of(shapes).map(c -> Arguments.of(t, c[0], c[1], c[2])));
    }

    @ParameterizedTest(name = "{0} tokens={1} past={2} block size={3}")
    @MethodSource("warpgroupChunks")
    void theWarpgroupTileGivesEveryOutputBitOfTheSixteenRowTile(Tile tile, int tokens, int past, int blockSize) {
        assumeTileRuns(tile);
        Random r = new Random(19L * tokens + past + blockSize);
        Operands in = Operands.random(r, tokens, past, blockSize, new int[] {past + tokens, 90});
        float[][] got = run(in, 0, tokens, past, new PrefillAttention(module, ctx.stream(), Tile.ROWS16),
                new PrefillAttention(module, ctx.stream(), tile));
        assertEquals(0, nanCount(got[0]), "elements left unwritten (NaN)");
        assertEquals(0, nanCount(got[1]), "elements the warpgroup tile left unwritten (NaN)");
        int differ = 0;
        double[] rows16 = new double[got[0].length];
        for (int i = 0; i < got[0].length; i++) {
            rows16[i] = got[0][i];
            if (Float.floatToRawIntBits(got[0][i]) != Float.floatToRawIntBits(got[1][i])) differ++;
        }
        System.out.printf("[prefill] attention %s vs ROWS16 tokens=%d past=%d block=%d: %d of %d outputs differ, relL2 %.3e%n",
                tile, tokens, past, blockSize, differ, got[0].length, relativeL2(got[1], rows16));
        assertArrayEquals(got[0], got[1]);
    }

    /** The grid's block order (heads on x or on y) changes when each block runs, never what it computes. */
    @ParameterizedTest
    @EnumSource(Tile.class)
    void theBlockOrderOfTheGridLeavesEveryOutputBitAsItWas(Tile tile) {
        assumeTileRuns(tile);
        int tokens = 333;
        int past = 70;
        Random r = new Random(5);
        Operands in = Operands.random(r, tokens, past, 64, new int[] {past + tokens});
        float[][] got = run(in, 0, tokens, past, new PrefillAttention(module, ctx.stream(), true, tile),
                new PrefillAttention(module, ctx.stream(), false, tile));
        assertEquals(0, nanCount(got[0]), "elements left unwritten (NaN)");
        assertArrayEquals(got[0], got[1]);
    }
}

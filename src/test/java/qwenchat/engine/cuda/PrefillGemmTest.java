package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static qwenchat.engine.cuda.DeviceData.*;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The prefill GEMMs against a double-precision Java product on random bf16 operands, for both kernel
 * families (wgmma runs only on compute capability 9.0). Row counts are ragged so the last 128-row
 * tile is partly masked; outputs are poisoned with NaN first so unwritten elements fail.
 */
@Tag("gpu")
class PrefillGemmTest {
    static final int K = 3584;   // Qwen2.5-7B hidden size
    static final int N = 1024;
    static final int M = 200;

    static CudaContext ctx;
    static KernelModule module;

    @BeforeAll
    static void load() {
        ctx = GpuTestSupport.context();
        module = ctx.call(KernelModule::load);
    }

    @AfterAll
    static void unload() {
        if (module != null) ctx.run(module::close);
    }

    static PrefillGemm gemm(boolean wgmma) {
        if (wgmma) {
            Assumptions.assumeTrue(PrefillGemm.usesWgmma(ctx.computeCapability()),
                    () -> "wgmma kernels need compute capability 9.0, this is " + ctx.computeCapability());
        }
        return new PrefillGemm(module, ctx.stream(), wgmma);
    }

    static void assertClose(String what, float[] got, double[] want) {
        assertEquals(0, nanCount(got), what + ": elements left unwritten (NaN)");
        double rel = relativeL2(got, want);
        System.out.printf("[prefill] %-44s relL2 %.3e%n", what, rel);
        assertTrue(rel < 1e-2, what + ": relative L2 error " + rel);
    }

    @ParameterizedTest(name = "wgmma={0}")
    @ValueSource(booleans = {false, true})
    void linearWithBiasRoundsToBf16(boolean wgmma) {
        PrefillGemm g = gemm(wgmma);
        Random r = new Random(11);
        float[] a = roundBf16(gaussian(r, M * K, 1.0));
        float[] w = roundBf16(gaussian(r, N * K, 1.0 / Math.sqrt(K)));
        float[] bias = roundBf16(gaussian(r, N, 0.5));
        double[] want = matmul(w, a, N, K, M);
        for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) want[i * N + j] += bias[j];
        float[] got = ctx.call(() -> {
            try (DeviceBuffer da = bf16("a", a); DeviceBuffer dw = bf16("w", w); DeviceBuffer db = bf16("bias", bias);
                 DeviceBuffer out = poisonedBf16("out", (long) M * N)) {
                g.linear(da.ptr(), dw.ptr(), db.ptr(), M, N, K, out.ptr());
                ctx.synchronize();
                return readBf16(out, M * N);
            }
        });
        assertClose("linear+bias wgmma=" + wgmma, got, want);
    }

    @ParameterizedTest(name = "wgmma={0}")
    @ValueSource(booleans = {false, true})
    void linearAddF32UpdatesResidualStreamInPlace(boolean wgmma) {
        PrefillGemm g = gemm(wgmma);
        Random r = new Random(12);
        float[] a = roundBf16(gaussian(r, M * K, 1.0));
        float[] w = roundBf16(gaussian(r, N * K, 1.0 / Math.sqrt(K)));
        float[] x = gaussian(r, M * N, 4.0);
        double[] want = matmul(w, a, N, K, M);
        for (int i = 0; i < want.length; i++) want[i] += x[i];
        float[] got = ctx.call(() -> {
            try (DeviceBuffer da = bf16("a", a); DeviceBuffer dw = bf16("w", w); DeviceBuffer dx = f32("x", x)) {
                g.linearAddF32(da.ptr(), dw.ptr(), M, N, K, dx.ptr());
                ctx.synchronize();
                return readF32(dx, M * N);
            }
        });
        assertClose("x += linear (f32) wgmma=" + wgmma, got, want);
    }

    @ParameterizedTest(name = "wgmma={0}")
    @ValueSource(booleans = {false, true})
    void linearF32KeepsFullPrecision(boolean wgmma) {
        PrefillGemm g = gemm(wgmma);
        Random r = new Random(13);
        int m = 3;  // e.g. the last rows' logits
        float[] a = roundBf16(gaussian(r, m * K, 1.0));
        float[] w = roundBf16(gaussian(r, N * K, 1.0 / Math.sqrt(K)));
        double[] want = matmul(w, a, N, K, m);
        float[] got = ctx.call(() -> {
            try (DeviceBuffer da = bf16("a", a); DeviceBuffer dw = bf16("w", w);
                 DeviceBuffer out = poisonedF32("logits", (long) m * N)) {
                g.linearF32(da.ptr(), dw.ptr(), m, N, K, out.ptr());
                ctx.synchronize();
                return readF32(out, m * N);
            }
        });
        assertEquals(0, nanCount(got));
        double rel = relativeL2(got, want);
        System.out.printf("[prefill] %-44s relL2 %.3e%n", "linear f32 wgmma=" + wgmma, rel);
        assertTrue(rel < 1e-5, "f32 output should differ from the double product only by summation order, got " + rel);
    }

    /**
     * Decode-width passes split over k: 200 rows of a 1024-wide projection are 8 tiles, so the 56
     * k-tiles go in 14 parts. The parts, summed in order with the bias and residual epilogue, must
     * match the double product, land on the same bits on every call, and stay within f32 summation
     * order of the unsplit kernel.
     */
    @org.junit.jupiter.api.Test
    void splitKProjectionsMatchTheProductAndRepeatBitForBit() {
        Assumptions.assumeTrue(PrefillGemm.usesWgmma(ctx.computeCapability()), "split-K is a wgmma kernel");
        int parts = PrefillGemm.splits(M, N, K, ctx.multiprocessors());
        assertTrue(parts > 1, "the test shape must split, got " + parts + " part(s)");
        Random r = new Random(15);
        float[] a = roundBf16(gaussian(r, M * K, 1.0));
        float[] w = roundBf16(gaussian(r, N * K, 1.0 / Math.sqrt(K)));
        float[] bias = roundBf16(gaussian(r, N, 0.5));
        float[] x = gaussian(r, M * N, 4.0);
        double[] product = matmul(w, a, N, K, M);
        double[] wantBias = product.clone();
        double[] wantAdd = product.clone();
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < N; j++) {
                wantBias[i * N + j] += bias[j];
                wantAdd[i * N + j] += x[i * N + j];
            }
        }
        float[][] got = ctx.call(() -> {
            try (DeviceBuffer part = DeviceBuffer.allocate("split parts", 4L * PrefillGemm.partialFloats());
                 DeviceBuffer da = bf16("a", a); DeviceBuffer dw = bf16("w", w); DeviceBuffer db = bf16("bias", bias);
                 DeviceBuffer outB = poisonedBf16("out", (long) M * N); DeviceBuffer dx = f32("x", x);
                 DeviceBuffer f1 = poisonedF32("f32 first", (long) M * N); DeviceBuffer f2 = poisonedF32("f32 again", (long) M * N);
                 DeviceBuffer whole = poisonedF32("f32 unsplit", (long) M * N)) {
                PrefillGemm split = new PrefillGemm(module, ctx.stream(), true, false, ctx.multiprocessors(), part.ptr());
                assertTrue(split.splitsK());
                split.linear(da.ptr(), dw.ptr(), db.ptr(), M, N, K, outB.ptr());
                split.linearAddF32(da.ptr(), dw.ptr(), M, N, K, dx.ptr());
                split.linearF32(da.ptr(), dw.ptr(), M, N, K, f1.ptr());
                split.linearF32(da.ptr(), dw.ptr(), M, N, K, f2.ptr());
                new PrefillGemm(module, ctx.stream(), true).linearF32(da.ptr(), dw.ptr(), M, N, K, whole.ptr());
                ctx.synchronize();
                return new float[][] {readBf16(outB, M * N), readF32(dx, M * N), readF32(f1, M * N), readF32(f2, M * N),
                        readF32(whole, M * N)};
            }
        });
        assertClose("split-K linear+bias (" + parts + " parts)", got[0], wantBias);
        assertClose("split-K x += linear (" + parts + " parts)", got[1], wantAdd);
        assertEquals(0, nanCount(got[2]));
        double rel = relativeL2(got[2], product);
        System.out.printf("[prefill] %-44s relL2 %.3e%n", "split-K linear f32 (" + parts + " parts)", rel);
        assertTrue(rel < 1e-5, "f32 split-K output should differ from the double product only by summation order, got " + rel);
        assertTrue(java.util.Arrays.equals(got[2], got[3]), "split-K parts are summed in a fixed order: calls must repeat bit for bit");
        double[] unsplit = new double[M * N];
        for (int i = 0; i < unsplit.length; i++) unsplit[i] = got[4][i];
        assertTrue(relativeL2(got[2], unsplit) < 1e-5, "split and unsplit sums differ by more than f32 summation order");
    }

    @ParameterizedTest(name = "wgmma={0}")
    @ValueSource(booleans = {false, true})
    void swigluOfFusedGateUpMatchesSiluGateTimesUp(boolean wgmma) {
        swigluMatches(gemm(wgmma), 512, "swiglu wgmma=" + wgmma);
    }

    /**
     * The 288-row swiglu tile (144 gate rows, 144 up rows, the second half's descriptor 144 rows on),
     * with a ragged last tile: 560 outputs are 3.9 tiles, which the SM count given picks it for.
     */
    @org.junit.jupiter.api.Test
    void theWideSwigluTileMatchesSiluGateTimesUpWithARaggedLastTile() {
        Assumptions.assumeTrue(PrefillGemm.usesWgmma(ctx.computeCapability()), "the wide tile is a wgmma kernel");
        int inter = 560;
        int sms = 4;
        assertTrue(PrefillGemm.swigluTile(inter, sms) == PrefillGemm.WGMMA_SWIGLU_WIDE);
        swigluMatches(new PrefillGemm(module, ctx.stream(), true, false, sms, null), inter, "swiglu 288-row tile");
    }

    private static void swigluMatches(PrefillGemm g, int inter, String what) {
        Random r = new Random(14);
        float[] a = roundBf16(gaussian(r, M * K, 1.0));
        float[] gu = roundBf16(gaussian(r, 2 * inter * K, 2.0 / Math.sqrt(K)));  // rows 0..inter-1 gate, then up
        double[] both = matmul(gu, a, 2 * inter, K, M);
        double[] want = new double[M * inter];
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < inter; j++) {
                double gate = both[i * 2 * inter + j];
                double up = both[i * 2 * inter + inter + j];
                want[i * inter + j] = gate / (1 + Math.exp(-gate)) * up;
            }
        }
        float[] got = ctx.call(() -> {
            try (DeviceBuffer da = bf16("a", a); DeviceBuffer dw = bf16("gate_up", gu);
                 DeviceBuffer out = poisonedBf16("act", (long) M * inter)) {
                g.swiglu(da.ptr(), dw.ptr(), M, inter, K, out.ptr());
                ctx.synchronize();
                return readBf16(out, M * inter);
            }
        });
        assertClose(what, got, want);
    }

    /**
     * The qkv projection with its epilogue fused (bias, RoPE, q, the paged K/V writes) against the f32
     * GEMM followed by {@code qkv_rope_store}: the same bits in q f32, q bf16 and both pools, poisoned
     * elements included. Shapes with 256-column tiles that hold q and k heads, or k and v heads, and
     * (head dim 128) a last tile of half its width; 200 rows of two sequences (positions to 3099, scrambled
     * blocks), large biases, a bias-lab mask on some rows, a rope scale other than 1, and q in f32 from
     * row 37 on beside the bf16 copy, then every row's f32 q without it; and the keys and values alone
     * (the GEMM's columns from qDim on), which write no q.
     */
    @ParameterizedTest(name = "head dim {0}")
    @ValueSource(ints = {128, 64})
    void theFusedQkvEpilogueWritesTheBitsOfTheProjectionFollowedByRopeStore(int hd) {
        Assumptions.assumeTrue(PrefillGemm.usesWgmma(ctx.computeCapability()), "the fused epilogue is a wgmma kernel");
        int k = 256;
        int qHeads = 896 / hd;
        int kvHeads = 128 / hd + (hd == 128 ? 0 : 1);
        int qDim = qHeads * hd;
        int kvDim = kvHeads * hd;
        int n = qDim + 2 * kvDim;
        int rows = M;
        int blockSize = 16;
        int maxBlocks = 200;
        Random r = new Random(hd + 7);
        float[] a = roundBf16(gaussian(r, rows * k, 1.0));
        float[] w = roundBf16(gaussian(r, n * k, 1.0 / Math.sqrt(k)));
        float[] bias = roundBf16(gaussian(r, n, 3.0));
        float[] invFreq = new float[hd / 2];
        for (int i = 0; i < invFreq.length; i++) invFreq[i] = (float) Math.pow(1e6, -2.0 * i / hd);
        int[] slots = new int[rows];
        int[] pos = new int[rows];
        int[] biasOff = new int[rows];
        for (int i = 0; i < rows; i++) {
            slots[i] = i < rows / 2 ? 0 : 1;
            pos[i] = i < rows / 2 ? i : 3000 + i - rows / 2;
            biasOff[i] = i % 3 == 0 ? i % 8 : 0;  // every third row skips some of q, k and v's biases
        }
        int[] table = new int[2 * maxBlocks];
        for (int b = 0; b < maxBlocks; b++) {
            table[b] = (7 * b + 3) % (2 * maxBlocks);
            table[maxBlocks + b] = (7 * b + 4) % (2 * maxBlocks);
        }
        long pool = 2L * maxBlocks * kvHeads * blockSize * hd;
        int qf32From = 37;
        float[][] got = ctx.call(() -> {
            try (DeviceBuffer da = bf16("a", a); DeviceBuffer dw = bf16("w", w); DeviceBuffer db = bf16("bias", bias);
                 DeviceBuffer df = f32("inv freq", invFreq); DeviceBuffer ds = i32("slots", slots); DeviceBuffer dp = i32("pos", pos);
                 DeviceBuffer dt = i32("block table", table); DeviceBuffer dOff = i32("bias off", biasOff);
                 DeviceBuffer qkvF32 = poisonedF32("qkv f32", (long) rows * n);
                 DeviceBuffer part = DeviceBuffer.allocate("split parts", 4L * PrefillGemm.partialFloats());
                 DeviceBuffer rope = poisonedF32("rope table", (long) rows * hd)) {
                PrefillGemm g = new PrefillGemm(module, ctx.stream(), true);
                CudaKernels kernels = new CudaKernels(module, ctx.stream(), DecodeKernels.defaults());
                CudaKernels.PagedKv kv = new CudaKernels.PagedKv(dt.ptr(), maxBlocks, blockSize);
                kernels.ropeTable(dp.ptr(), df.ptr(), 1.25f, rope.ptr(), rows, hd);
                float[][] out = new float[20][];
                for (int pass = 0; pass < 2; pass++) {
                    boolean chunk = pass == 0;  // a prompt chunk's q: bf16 for every row, f32 from row 37
                    for (int fused = 0; fused < 2; fused++) {
                        try (DeviceBuffer qOut = poisonedF32("q f32", (long) rows * qDim);
                             DeviceBuffer qBf = poisonedBf16("q bf16", (long) rows * qDim);
                             DeviceBuffer kPool = poisonedBf16("k pool", pool); DeviceBuffer vPool = poisonedBf16("v pool", pool)) {
                            QkvEpilogue e = new QkvEpilogue(db.ptr(), rope.ptr(), qOut.ptr(), chunk ? qBf.ptr() : null,
                                    kPool.ptr(), vPool.ptr(), ds.ptr(), dp.ptr(), qDim, kvDim, hd, kv, chunk ? dOff.ptr() : null,
                                    chunk ? qf32From : 0);
                            if (fused == 1) {
                                assertTrue(g.qkvRope(da.ptr(), dw.ptr(), rows, k, e, 0), "the fused kernel takes " + rows + " rows");
                            } else {
                                g.linearF32(da.ptr(), dw.ptr(), rows, n, k, qkvF32.ptr());
                                kernels.qkvRopeStore(qkvF32.ptr(), rows, e);
                            }
                            ctx.synchronize();
                            int at = 8 * pass + 4 * fused;
                            out[at] = readF32(qOut, rows * qDim);
                            out[at + 1] = readBf16(qBf, rows * qDim);
                            out[at + 2] = readBf16(kPool, (int) pool);
                            out[at + 3] = readBf16(vPool, (int) pool);
                        }
                    }
                }
                // Keys and values alone (a last layer whose q no row reads): the chunk pass's pools, no q.
                try (DeviceBuffer qOut = poisonedF32("q f32", (long) rows * qDim);
                     DeviceBuffer qBf = poisonedBf16("q bf16", (long) rows * qDim);
                     DeviceBuffer kPool = poisonedBf16("k pool", pool); DeviceBuffer vPool = poisonedBf16("v pool", pool)) {
                    QkvEpilogue e = new QkvEpilogue(db.ptr(), rope.ptr(), qOut.ptr(), qBf.ptr(), kPool.ptr(), vPool.ptr(), ds.ptr(),
                            dp.ptr(), qDim, kvDim, hd, kv, dOff.ptr(), qf32From);
                    assertTrue(g.qkvRope(da.ptr(), dw.ptr(), rows, k, e, qDim), "the fused kernel takes keys and values alone");
                    ctx.synchronize();
                    out[16] = readF32(qOut, rows * qDim);
                    out[17] = readBf16(qBf, rows * qDim);
                    out[18] = readBf16(kPool, (int) pool);
                    out[19] = readBf16(vPool, (int) pool);
                }
                // Where the plain kernel would split over k, or take the narrow tile, the fused one declines.
                PrefillGemm splitting = new PrefillGemm(module, ctx.stream(), true, false, ctx.multiprocessors(), part.ptr());
                QkvEpilogue none = new QkvEpilogue(db.ptr(), rope.ptr(), qkvF32.ptr(), null, qkvF32.ptr(), qkvF32.ptr(), ds.ptr(),
                        dp.ptr(), qDim, kvDim, hd, kv, null, 0);
                assertTrue(PrefillGemm.splits(rows, n, k, ctx.multiprocessors()) > 1 == !splitting.qkvRope(da.ptr(), dw.ptr(), rows,
                        k, none, 0), "declines exactly where the plain projection splits over k");
                assertTrue(!g.qkvRope(da.ptr(), dw.ptr(), PrefillGemm.SMALL_M, k, none, 0), "declines the narrow tile's row counts");
                ctx.synchronize();
                return out;
            }
        });
        String[] names = {"q f32", "q bf16", "k pool", "v pool"};
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < 4; i++) {
                float[] two = got[8 * pass + i];
                float[] one = got[8 * pass + 4 + i];
                int differ = 0;
                for (int j = 0; j < two.length; j++) {
                    if (Float.floatToRawIntBits(two[j]) != Float.floatToRawIntBits(one[j])) differ++;
                }
                assertEquals(0, differ, (pass == 0 ? "chunk pass: " : "decode pass: ") + names[i] + " elements differ from the"
                        + " two launches");
            }
            assertTrue(nanCount(got[8 * pass + 2]) < pool, "keys were written");
        }
        assertEquals(rows * qDim, nanCount(got[16]), "keys and values alone: no f32 q");
        assertEquals(rows * qDim, nanCount(got[17]), "keys and values alone: no bf16 q");
        for (int i = 2; i < 4; i++) {
            int differ = 0;
            for (int j = 0; j < got[i].length; j++) {
                if (Float.floatToRawIntBits(got[i][j]) != Float.floatToRawIntBits(got[16 + i][j])) differ++;
            }
            assertEquals(0, differ, "keys and values alone: " + names[i] + " elements differ from the two launches");
        }
        assertEquals(qf32From * qDim, nanCount(got[0]), "chunk pass: f32 q only from row " + qf32From);
        assertEquals(0, nanCount(got[1]), "chunk pass: bf16 q for every row");
        assertEquals(0, nanCount(got[8]), "decode pass: f32 q for every row");
        assertEquals(rows * qDim, nanCount(got[9]), "decode pass: no bf16 q");
        assertEquals(pool - (long) rows * kvDim, nanCount(got[2]), "keys land at the rows' slots and nowhere else");
    }
}

package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static qwenchat.engine.cuda.DeviceData.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import qwenchat.engine.cuda.CudaKernels.GemvArgs;
import qwenchat.engine.cuda.CudaKernels.GemvMode;

/**
 * Each kernel against a plain-Java reference on random inputs at Qwen2.5-7B shapes (hidden 3584,
 * intermediate 18944, 28 query / 4 KV heads of 128, vocab 152064). Outputs are poisoned with NaN
 * first, so an element the kernel never writes fails the test. Relative L2 errors are printed.
 */
@Tag("gpu")
class CudaKernelsTest {
    static final int H = 3584;
    static final int I = 18944;
    static final int HEADS = 28;
    static final int KV_HEADS = 4;
    static final int HD = 128;
    static final int V = 152064;

    static CudaContext ctx;
    static KernelModule module;
    static CudaKernels k;

    @BeforeAll
    static void load() {
        ctx = GpuTestSupport.context();
        module = ctx.call(KernelModule::load);
        k = new CudaKernels(module, ctx.stream());
    }

    @AfterAll
    static void unload() {
        if (module != null) ctx.run(module::close);
    }

    static void report(String what, double relL2) {
        System.out.printf("[kernel] %-44s relL2 %.3e%n", what, relL2);
    }

    /** Hidden sizes: 3584 (7B, one 16-byte load a thread), 3586 (rows not 16-byte aligned: element by element). */
    @ParameterizedTest(name = "hidden {0}")
    @CsvSource({"3584", "3586"})
    void embeddingRowsAreExactCopies(int hidden) {
        final int H = hidden;
        Random r = new Random(1);
        int vocab = 1000;
        float[] table = roundBf16(gaussian(r, vocab * H, 0.05));
        int[] tokens = {0, 999, 17, 17, 512};
        float[] got = ctx.call(() -> {
            try (DeviceBuffer e = bf16("E", table); DeviceBuffer t = i32("tokens", tokens);
                 DeviceBuffer x = poisonedF32("x", (long) tokens.length * H)) {
                k.embedRows(t.ptr(), e.ptr(), x.ptr(), tokens.length, H);
                ctx.synchronize();
                return readF32(x, tokens.length * H);
            }
        });
        for (int i = 0; i < tokens.length; i++) {
            assertArrayEquals(Arrays.copyOfRange(table, tokens[i] * H, (tokens[i] + 1) * H),
                    Arrays.copyOfRange(got, i * H, (i + 1) * H), 0f, "row " + i);
        }
    }

    /** Hidden sizes: 3584 (7B, four floats a load), 3586 (not a multiple of 4: the one-float loop). */
    @ParameterizedTest(name = "hidden {0}, four floats a load allowed {1}")
    @CsvSource({"3584, true", "3584, false", "3586, true"})
    void rmsnormMatchesCpuRoundingOnSelectedRows(int hidden, boolean vectorized) {
        final int H = hidden;
        Random r = new Random(2);
        int rows = 6;
        float[] x = gaussian(r, rows * H, 3.0);
        float[] w = roundBf16(gaussian(r, H, 0.1));
        for (int i = 0; i < H; i++) w[i] += 1f;
        roundBf16(w);
        int[] pick = {5, 0, 3};
        float eps = 1e-6f;
        float[] got = ctx.call(() -> {
            try (DeviceBuffer dx = f32("x", x); DeviceBuffer dw = bf16("w", w); DeviceBuffer idx = i32("rows", pick);
                 DeviceBuffer out = poisonedF32("out", (long) pick.length * H);
                 DeviceBuffer outB = poisonedBf16("out bf16", (long) pick.length * H)) {
                k.rmsnorm(dx.ptr(), dw.ptr(), out.ptr(), outB.ptr(), idx.ptr(), pick.length, H, eps, vectorized);
                ctx.synchronize();
                float[] f = readF32(out, pick.length * H);
                assertArrayEquals(roundBf16(f.clone()), readBf16(outB, pick.length * H), "bf16 output is the f32 one rounded");
                return f;
            }
        });
        double[] want = new double[pick.length * H];
        for (int o = 0; o < pick.length; o++) {
            int src = pick[o] * H;
            double ss = 0;
            for (int i = 0; i < H; i++) ss += (double) x[src + i] * x[src + i];
            float rstd = (float) (1 / Math.sqrt(ss / H + eps));
            for (int i = 0; i < H; i++) want[o * H + i] = (double) w[i] * x[src + i] * rstd;
        }
        assertEquals(0, nanCount(got), "unwritten outputs");
        double rel = relativeL2(got, want);
        report("rmsnorm 3 of 6 rows x " + H + (vectorized ? "" : ", one float a load"), rel);
        assertTrue(rel < 1e-5, "relL2 " + rel);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 64})
    void residualGemvAddsDownProjection(int rows) {
        Random r = new Random(3 + rows);
        float[] w = roundBf16(gaussian(r, H * I, 0.02));
        float[] a = gaussian(r, rows * I, 1.0);
        float[] x0 = gaussian(r, rows * H, 1.0);
        float[] got = ctx.call(() -> {
            try (DeviceBuffer dw = bf16("w", w); DeviceBuffer da = f32("a", a); DeviceBuffer dx = f32("x", x0)) {
                k.gemv(GemvMode.RESIDUAL, dw.ptr(), da.ptr(), H, I, rows, GemvArgs.out(dx.ptr()));
                ctx.synchronize();
                return readF32(dx, rows * H);
            }
        });
        double[] want = matmul(w, a, H, I, rows);
        for (int i = 0; i < want.length; i++) want[i] += x0[i];
        double rel = relativeL2(got, want);
        report("gemv residual down_proj 3584x18944 rows " + rows, rel);
        assertTrue(rel < 1e-4, "relL2 " + rel);
    }

    /** Each warp owns its weight-row pairs whatever the block, so the launch shape never changes a sum. */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void residualGemvGivesTheSameBitsWithAnyWarpsPerBlock(int warps) {
        Random r = new Random(11);
        int rows = 3;
        float[] w = roundBf16(gaussian(r, H * I, 0.02));
        float[] a = gaussian(r, rows * I, 1.0);
        float[] x0 = gaussian(r, rows * H, 1.0);
        float[][] got = ctx.call(() -> {
            try (DeviceBuffer dw = bf16("w", w); DeviceBuffer da = f32("a", a); DeviceBuffer dx = f32("x", x0);
                 DeviceBuffer dy = f32("y", x0)) {
                k.gemv(GemvMode.RESIDUAL, dw.ptr(), da.ptr(), H, I, rows, GemvArgs.out(dx.ptr()));
                k.gemvWithWarps(GemvMode.RESIDUAL, warps, 1, dw.ptr(), da.ptr(), H, I, rows, GemvArgs.out(dy.ptr()));
                ctx.synchronize();
                return new float[][] {readF32(dx, rows * H), readF32(dy, rows * H)};
            }
        });
        assertArrayEquals(got[0], got[1], "residual gemv with " + warps + " warps per block against the engine's "
                + CudaKernels.gemvWarps(GemvMode.RESIDUAL));
    }

    /**
     * K split over 2 or 4 warps a weight-row pair (o_proj's 3584 x 3584 and down_proj's 3584 x 18944):
     * the product to f32 rounding, the same bits on a second launch, and a row's bits do not depend
     * on its batch tile (one row alone against the first of five in a tile of 8).
     */
    @ParameterizedTest(name = "K over {0} warps, K = {1}")
    @CsvSource({"2, 3584", "4, 3584", "2, 18944", "4, 18944"})
    void splitKGemvMatchesTheProductRepeatsAndGivesARowTheSameBitsAtEveryTile(int splits, int kDim) {
        Random r = new Random(13 + splits + kDim);
        int rows = 5;
        float[] w = roundBf16(gaussian(r, H * kDim, 0.02));
        float[] a = gaussian(r, rows * kDim, 1.0);
        float[] x0 = gaussian(r, rows * H, 1.0);
        float[][] got = ctx.call(() -> {
            try (DeviceBuffer dw = bf16("w", w); DeviceBuffer da = f32("a", a); DeviceBuffer d1 = f32("x1", x0);
                 DeviceBuffer d2 = f32("x2", x0); DeviceBuffer d3 = f32("x3", x0)) {
                k.gemvWithWarps(GemvMode.RESIDUAL, 8, splits, dw.ptr(), da.ptr(), H, kDim, rows, GemvArgs.out(d1.ptr()));
                k.gemvWithWarps(GemvMode.RESIDUAL, 8, splits, dw.ptr(), da.ptr(), H, kDim, rows, GemvArgs.out(d2.ptr()));
                k.gemvWithWarps(GemvMode.RESIDUAL, 8, splits, dw.ptr(), da.ptr(), H, kDim, 1, GemvArgs.out(d3.ptr()));
                ctx.synchronize();
                return new float[][] {readF32(d1, rows * H), readF32(d2, rows * H), readF32(d3, H)};
            }
        });
        double[] want = matmul(w, a, H, kDim, rows);
        for (int i = 0; i < want.length; i++) want[i] += x0[i];
        double rel = relativeL2(got[0], want);
        report("gemv residual " + H + "x" + kDim + " K over " + splits + " warps", rel);
        assertTrue(rel < 1e-4, "relL2 " + rel);
        assertArrayEquals(got[0], got[1], "a second launch");
        assertArrayEquals(Arrays.copyOf(got[0], H), got[2], "row 0 alone against row 0 of five");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 5})
    void plainGemvComputesLmHeadLogits(int rows) {
        Random r = new Random(4 + rows);
        float[] w = roundBf16(gaussian(r, V * H, 0.02));
        float[] x = gaussian(r, rows * H, 1.0);
        float[] got = ctx.call(() -> {
            try (DeviceBuffer dw = bf16("w", w); DeviceBuffer dx = f32("x", x);
                 DeviceBuffer out = poisonedF32("logits", (long) rows * V)) {
                k.gemv(GemvMode.PLAIN, dw.ptr(), dx.ptr(), V, H, rows, GemvArgs.out(out.ptr()));
                ctx.synchronize();
                return readF32(out, rows * V);
            }
        });
        assertEquals(0, nanCount(got), "unwritten logits");
        double rel = relativeL2(got, matmul(w, x, V, H, rows));
        report("gemv plain lm_head 152064x3584 rows " + rows, rel);
        assertTrue(rel < 1e-4, "relL2 " + rel);
    }

    @Test
    void swigluGemvFusesGateAndUp() {
        int rows = 3;
        Random r = new Random(5);
        float[] w = roundBf16(gaussian(r, 2 * I * H, 0.02));
        float[] x = gaussian(r, rows * H, 1.0);
        float[] got = ctx.call(() -> {
            try (DeviceBuffer dw = bf16("w", w); DeviceBuffer dx = f32("x", x);
                 DeviceBuffer out = poisonedF32("act", (long) rows * I)) {
                k.gemv(GemvMode.SWIGLU, dw.ptr(), dx.ptr(), 2 * I, H, rows, GemvArgs.swiglu(out.ptr()));
                ctx.synchronize();
                return readF32(out, rows * I);
            }
        });
        double[] gu = matmul(w, x, 2 * I, H, rows);
        double[] want = new double[rows * I];
        for (int b = 0; b < rows; b++) {
            for (int j = 0; j < I; j++) {
                double g = gu[b * 2 * I + j];
                double u = gu[b * 2 * I + I + j];
                want[b * I + j] = g / (1 + Math.exp(-g)) * u;
            }
        }
        assertEquals(0, nanCount(got), "unwritten activations");
        double rel = relativeL2(got, want);
        report("gemv swiglu gate/up 2x18944x3584 rows 3", rel);
        assertTrue(rel < 1e-4, "relL2 " + rel);
    }

    @Test
    void qkvGemvAddsBiasRotatesAndWritesEachRowIntoItsSequencesBlock() {
        int rows = 4;
        int qDim = HEADS * HD;
        int kvDim = KV_HEADS * HD;
        int n = qDim + 2 * kvDim;
        Random r = new Random(6);
        float[] w = roundBf16(gaussian(r, n * H, 0.02));
        float[] bias = roundBf16(gaussian(r, n, 1.0));
        for (int i = qDim; i < qDim + kvDim; i++) bias[i] = roundBf16(new float[] {(float) (r.nextGaussian() * 20)})[0];
        float[] x = gaussian(r, rows * H, 1.0);
        int[] slots = {2, 0, 1, 2};
        int[] pos = {0, 5, 1000, 32767};
        // Blocks of 48 tokens (no power of two) scattered over a pool with spare blocks in between.
        PagedLayout kv = PagedLayout.shuffled(r, new int[] {6, 1001, 32768}, 48, KV_HEADS, HD, 7);
        float[] inv = new float[HD / 2];
        for (int i = 0; i < inv.length; i++) inv[i] = (float) (1 / Math.pow(1e6, (2.0 * i) / HD));
        float scale = 1.2f;
        long cacheElems = kv.poolElements();
        List<float[]> got = ctx.call(() -> {
            try (DeviceBuffer dw = bf16("w", w); DeviceBuffer db = bf16("bias", bias); DeviceBuffer dx = f32("x", x);
                 DeviceBuffer dinv = f32("inv", inv); DeviceBuffer ds = i32("slots", slots); DeviceBuffer dp = i32("pos", pos);
                 DeviceBuffer dt = i32("block table", kv.table());
                 DeviceBuffer q = poisonedF32("q", (long) rows * qDim);
                 DeviceBuffer kc = poisonedBf16("k", cacheElems); DeviceBuffer vc = poisonedBf16("v", cacheElems)) {
                k.gemv(GemvMode.QKV, dw.ptr(), dx.ptr(), n, H, rows, new GemvArgs(q.ptr(), null, db.ptr(), dinv.ptr(), scale,
                        kc.ptr(), vc.ptr(), ds.ptr(), dp.ptr(), qDim, kvDim, HD,
                        new CudaKernels.PagedKv(dt.ptr(), kv.maxBlocksPerSeq, kv.blockSize)));
                ctx.synchronize();
                List<float[]> out = new ArrayList<>();
                out.add(readF32(q, rows * qDim));
                for (int b = 0; b < rows; b++) {
                    for (DeviceBuffer c : new DeviceBuffer[] {kc, vc}) {
                        float[] kvRow = new float[kvDim];
                        for (int h = 0; h < KV_HEADS; h++) {
                            short[] s = new short[HD];
                            long off = kv.offset(slots[b], h, pos[b]) * 2;
                            c.copyToHost(jcuda.Pointer.to(s), off, 2L * HD);
                            System.arraycopy(fromBf16(s), 0, kvRow, h * HD, HD);
                        }
                        out.add(kvRow);
                    }
                }
                // A position no row wrote must still hold the poison.
                short[] untouched = new short[HD];
                kc.copyToHost(jcuda.Pointer.to(untouched), kv.offset(slots[1], 0, pos[1] + 1) * 2, 2L * HD);
                out.add(fromBf16(untouched));
                return out;
            }
        });
        double[] raw = matmul(w, x, n, H, rows);
        double[] wantQ = new double[rows * qDim];
        double[] wantK = new double[rows * kvDim];
        double[] wantV = new double[rows * kvDim];
        for (int b = 0; b < rows; b++) {
            double[] v = new double[n];
            for (int j = 0; j < n; j++) v[j] = raw[b * n + j] + bias[j];
            for (int head = 0; head < HEADS + KV_HEADS; head++) {
                int base = head * HD;
                for (int i = 0; i < HD / 2; i++) {
                    float angle = (float) pos[b] * inv[i];
                    double c = Math.cos(angle) * scale;
                    double s = Math.sin(angle) * scale;
                    double x0 = v[base + i];
                    double x1 = v[base + i + HD / 2];
                    v[base + i] = x0 * c - x1 * s;
                    v[base + i + HD / 2] = x1 * c + x0 * s;
                }
            }
            System.arraycopy(v, 0, wantQ, b * qDim, qDim);
            System.arraycopy(v, qDim, wantK, b * kvDim, kvDim);
            System.arraycopy(v, qDim + kvDim, wantV, b * kvDim, kvDim);
        }
        float[] gotK = new float[rows * kvDim];
        float[] gotV = new float[rows * kvDim];
        for (int b = 0; b < rows; b++) {
            System.arraycopy(got.get(1 + 2 * b), 0, gotK, b * kvDim, kvDim);
            System.arraycopy(got.get(2 + 2 * b), 0, gotV, b * kvDim, kvDim);
        }
        assertEquals(0, nanCount(got.get(0)), "unwritten q");
        assertEquals(0, nanCount(gotK), "unwritten k cache entries");
        assertEquals(0, nanCount(gotV), "unwritten v cache entries");
        assertEquals(HD, nanCount(got.get(got.size() - 1)), "a cache position no row owns was written");
        double rq = relativeL2(got.get(0), wantQ);
        double rk = relativeL2(gotK, wantK);
        double rv = relativeL2(gotV, wantV);
        report("gemv qkv+bias+rope q (f32) rows 4", rq);
        report("gemv qkv+bias+rope k cache (bf16)", rk);
        report("gemv qkv v cache (bf16)", rv);
        assertTrue(rq < 1e-4, "q relL2 " + rq);
        assertTrue(rk < 1e-2, "k relL2 " + rk);
        assertTrue(rv < 1e-2, "v relL2 " + rv);
    }

    @ParameterizedTest(name = "block size {0}")
    @ValueSource(ints = {16, 48, 64, 128})
    void splitAttentionMatchesSoftmaxOverTheSequencesPrefixThroughShuffledBlocks(int blockSize) {
        // Rows of two sequences, one spanning 8192 tokens in many blocks; lengths that no block size divides.
        int[] slots = {0, 1, 0, 1, 0};
        int[] pos = {0, 127, 128, 4999, 8191};
        int rows = slots.length;
        int qDim = HEADS * HD;
        Random r = new Random(7);
        PagedLayout kv = PagedLayout.shuffled(r, new int[] {8192, 5000}, blockSize, KV_HEADS, HD, 5);
        float[] q = gaussian(r, rows * qDim, 1.0);
        int cacheElems = (int) kv.poolElements();
        float[] kc = roundBf16(gaussian(r, cacheElems, 1.0));
        float[] vc = roundBf16(gaussian(r, cacheElems, 1.0));
        float scale = (float) (1 / Math.sqrt(HD));
        int splits = CudaKernels.splitsFor(8192);
        float[][] both = ctx.call(() -> {
            try (DeviceBuffer dq = f32("q", q); DeviceBuffer dk = bf16("k", kc); DeviceBuffer dv = bf16("v", vc);
                 DeviceBuffer ds = i32("slots", slots); DeviceBuffer dp = i32("pos", pos);
                 DeviceBuffer dt = i32("block table", kv.table());
                 DeviceBuffer po = DeviceBuffer.allocate("partO", 4L * rows * HEADS * splits * HD);
                 DeviceBuffer pm = DeviceBuffer.allocate("partMl", 8L * rows * HEADS * splits);
                 DeviceBuffer out = poisonedF32("out", (long) rows * qDim);
                 DeviceBuffer outB = poisonedBf16("out bf16", (long) rows * qDim)) {
                k.attentionPartial(dq.ptr(), dk.ptr(), dv.ptr(), ds.ptr(), dp.ptr(), po.ptr(), pm.ptr(), rows, HEADS, KV_HEADS,
                        HD, new CudaKernels.PagedKv(dt.ptr(), kv.maxBlocksPerSeq, kv.blockSize), splits, splits, scale);
                k.attentionCombine(po.ptr(), pm.ptr(), dp.ptr(), out.ptr(), outB.ptr(), rows, HEADS, HD, splits);
                ctx.synchronize();
                return new float[][] {readF32(out, rows * qDim), readBf16(outB, rows * qDim)};
            }
        });
        float[] got = both[0];
        // The bf16 output is the f32 one rounded to nearest even, element for element (o_proj's operand).
        assertArrayEquals(roundBf16(got.clone()), both[1], "bf16 attention output");
        double[] want = kv.attention(q, kc, vc, slots, pos, HEADS, scale);
        assertEquals(0, nanCount(got), "unwritten attention outputs");
        double rel = relativeL2(got, want);
        report("attention paged blocks of " + blockSize + ", lens 1..8192", rel);
        assertTrue(rel < 1e-4, "relL2 " + rel);
    }

    @Test
    void topkReportsBestIdsWithLogprobsAndLowerIdOnTies() {
        int rows = 3;
        int kk = 20;
        Random r = new Random(8);
        float[] logits = gaussian(r, rows * V, 2.0);
        logits[V + 100] = 50f;
        logits[V + 7] = 50f;     // tie with a lower id: 7 must come first
        logits[2 * V + V - 1] = 40f;
        float[][] got = ctx.call(() -> {
            try (DeviceBuffer dl = f32("logits", logits);
                 DeviceBuffer ids = DeviceBuffer.allocate("ids", 4L * rows * kk);
                 DeviceBuffer lps = poisonedF32("lps", (long) rows * kk); DeviceBuffer lse = poisonedF32("lse", rows)) {
                k.logitsTopk(dl.ptr(), rows, V, kk, ids.ptr(), lps.ptr(), lse.ptr());
                ctx.synchronize();
                int[] i = new int[rows * kk];
                ids.copyToHost(i);
                float[] fi = new float[i.length];
                for (int j = 0; j < i.length; j++) fi[j] = i[j];
                return new float[][] {fi, readF32(lps, rows * kk), readF32(lse, rows)};
            }
        });
        for (int b = 0; b < rows; b++) {
            final int row = b;
            double m = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < V; i++) m = Math.max(m, logits[b * V + i]);
            double s = 0;
            for (int i = 0; i < V; i++) s += Math.exp(logits[b * V + i] - m);
            double lse = m + Math.log(s);
            Integer[] order = new Integer[V];
            for (int i = 0; i < V; i++) order[i] = i;
            Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -logits[row * V + i]).thenComparingInt(i -> i));
            assertEquals(lse, got[2][b], 1e-4 * Math.abs(lse), "lse row " + b);
            for (int j = 0; j < kk; j++) {
                assertEquals(order[j], (int) got[0][b * kk + j], "rank " + j + " of row " + b);
                assertEquals(logits[b * V + order[j]] - lse, got[1][b * kk + j], 1e-4, "logprob rank " + j);
            }
        }
        assertEquals(7, (int) got[0][kk]);
        assertEquals(100, (int) got[0][kk + 1]);
    }

    @Test
    void twoStageArgmaxAgreesWithTopkOnIdsLogprobsAndLogSumExp() {
        int rows = 3;
        Random r = new Random(9);
        float[] logits = gaussian(r, rows * V, 3.0);
        logits[5000] = 30f;
        logits[4000] = 30f;        // tie: 4000 must win
        logits[V + V - 1] = 25f;   // in the last chunk
        logits[2 * V] = 25f;       // the very first id
        float[][] got = ctx.call(() -> {
            try (DeviceBuffer dl = f32("logits", logits); DeviceBuffer part = DeviceBuffer.allocate("part", 12L * rows * 64);
                 DeviceBuffer ids = DeviceBuffer.allocate("ids", 4L * rows); DeviceBuffer lps = poisonedF32("lps", rows);
                 DeviceBuffer lse = poisonedF32("lse", rows)) {
                k.logitsArgmax(dl.ptr(), rows, V, part.ptr(), ids.ptr(), lps.ptr(), lse.ptr());
                ctx.synchronize();
                int[] i = new int[rows];
                ids.copyToHost(i);
                return new float[][] {{i[0], i[1], i[2]}, readF32(lps, rows), readF32(lse, rows)};
            }
        });
        int[] want = {4000, 2 * V - 1 - V, 0};
        for (int b = 0; b < rows; b++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < V; i++) m = Math.max(m, logits[b * V + i]);
            double s = 0;
            for (int i = 0; i < V; i++) s += Math.exp(logits[b * V + i] - m);
            double lse = m + Math.log(s);
            assertEquals(want[b], (int) got[0][b], "argmax row " + b);
            assertEquals(lse, got[2][b], 1e-5 * Math.abs(lse), "lse row " + b);
            assertEquals(logits[b * V + want[b]] - lse, got[1][b], 1e-4, "logprob row " + b);
        }
    }

    @Test
    void bandwidthKernelReadsEveryWord() {
        int n = 1 << 20;
        float[] sums = ctx.call(() -> {
            try (DeviceBuffer src = DeviceBuffer.allocate("src", 16L * n); DeviceBuffer out = poisonedF32("sums", 64)) {
                src.zero();
                k.readBandwidth(src.ptr(), 16L * n, out.ptr(), 64);
                ctx.synchronize();
                return readF32(out, 64);
            }
        });
        for (float s : sums) assertEquals(0f, s, "every block writes its partial sum");
    }

    // rope_table and qkv_rope_store: rows of two sequences at positions 0 to 3001 (cosines of large angles), non-zero
    // biases, a rope scale other than 1, q in f32 only from row 2, against a double-precision bias add,
    // half-split rotation and paged KV write. Head dim 128 takes the two-pairs-a-thread path; 6 (three
    // pairs a head) the one-pair path.
    static final int ROPE_Q_HEADS = 3;
    static final int ROPE_KV_HEADS = 2;
    static final int ROPE_BLOCK = 64;
    static final int ROPE_MAX_BLOCKS = 48;
    static final int[] ROPE_SLOTS = {0, 0, 1, 1, 1};
    static final int[] ROPE_POS = {0, 5, 63, 64, 3001};
    static final int ROPE_Q_F32_FROM = 2;
    static final float ROPE_SCALE = 1.25f;

    @ParameterizedTest(name = "head dim {0}")
    @ValueSource(ints = {128, 6})
    void qkvRopeStoreAddsBiasRotatesAndWritesThePagedKvAsTheReferenceDoes(int hd) {
        int half = hd / 2;
        int qDim = ROPE_Q_HEADS * hd;
        int kvDim = ROPE_KV_HEADS * hd;
        int n = qDim + 2 * kvDim;
        int rows = ROPE_POS.length;
        Random r = new Random(hd);
        float[] qkv = gaussian(r, rows * n, 2.0);
        float[] bias = roundBf16(gaussian(r, n, 3.0));  // large, as Qwen2.5's k_proj biases are
        float[] invFreq = new float[half];
        for (int i = 0; i < half; i++) invFreq[i] = (float) Math.pow(1e6, -2.0 * i / hd);
        // Sequence 0 in physical blocks 5, 9, ...; sequence 1 in blocks 2, 7, 12, ...: no two alike.
        int[] table = new int[2 * ROPE_MAX_BLOCKS];
        for (int b = 0; b < ROPE_MAX_BLOCKS; b++) {
            table[b] = 5 + 4 * b;
            table[ROPE_MAX_BLOCKS + b] = 2 + 5 * b;
        }
        int totalBlocks = 2 + 5 * ROPE_MAX_BLOCKS;
        long pool = (long) totalBlocks * ROPE_KV_HEADS * ROPE_BLOCK * hd;

        double[][] want = ropeReference(qkv, bias, invFreq, hd, qDim, kvDim);
        float[][] got = ctx.call(() -> {
            try (DeviceBuffer dqkv = f32("qkv", qkv); DeviceBuffer db = bf16("bias", bias); DeviceBuffer df = f32("inv freq", invFreq);
                 DeviceBuffer qOut = poisonedF32("q f32", (long) rows * qDim); DeviceBuffer qBf = poisonedBf16("q bf16", (long) rows * qDim);
                 DeviceBuffer kPool = poisonedBf16("k pool", pool); DeviceBuffer vPool = poisonedBf16("v pool", pool);
                 DeviceBuffer slots = i32("slots", ROPE_SLOTS); DeviceBuffer pos = i32("pos", ROPE_POS); DeviceBuffer bt = i32("block table", table);
                 DeviceBuffer rope = poisonedF32("rope table", (long) rows * hd)) {
                k.ropeTable(pos.ptr(), df.ptr(), ROPE_SCALE, rope.ptr(), rows, hd);
                k.qkvRopeStore(dqkv.ptr(), rows, new QkvEpilogue(db.ptr(), rope.ptr(), qOut.ptr(), qBf.ptr(), kPool.ptr(),
                        vPool.ptr(), slots.ptr(), pos.ptr(), qDim, kvDim, hd, new CudaKernels.PagedKv(bt.ptr(), ROPE_MAX_BLOCKS, ROPE_BLOCK),
                        null, ROPE_Q_F32_FROM));
                ctx.synchronize();
                return new float[][] {readF32(qOut, rows * qDim), readBf16(qBf, rows * qDim), readBf16(kPool, (int) pool),
                        readBf16(vPool, (int) pool)};
            }
        });

        float[] qF32 = new float[(rows - ROPE_Q_F32_FROM) * qDim];
        System.arraycopy(got[0], ROPE_Q_F32_FROM * qDim, qF32, 0, qF32.length);
        double[] qWant = new double[qF32.length];
        System.arraycopy(want[0], ROPE_Q_F32_FROM * qDim, qWant, 0, qWant.length);
        assertEquals(ROPE_Q_F32_FROM * qDim, nanCount(got[0]), "q f32 must be written from row " + ROPE_Q_F32_FROM + " on, and only there");
        assertEquals(0, nanCount(qF32));
        assertTrue(relativeL2(qF32, qWant) < 1e-5, "q f32 relative L2 " + relativeL2(qF32, qWant));
        assertEquals(0, nanCount(got[1]), "q bf16 is written for every row");
        assertTrue(relativeL2(got[1], want[0]) < 1e-2, "q bf16 relative L2 " + relativeL2(got[1], want[0]));

        float[] kGot = new float[rows * kvDim];
        float[] vGot = new float[rows * kvDim];
        for (int row = 0; row < rows; row++) {
            for (int h = 0; h < ROPE_KV_HEADS; h++) {
                int blk = table[ROPE_SLOTS[row] * ROPE_MAX_BLOCKS + ROPE_POS[row] / ROPE_BLOCK];
                int at = ((blk * ROPE_KV_HEADS + h) * ROPE_BLOCK + ROPE_POS[row] % ROPE_BLOCK) * hd;
                System.arraycopy(got[2], at, kGot, row * kvDim + h * hd, hd);
                System.arraycopy(got[3], at, vGot, row * kvDim + h * hd, hd);
            }
        }
        assertEquals(0, nanCount(kGot));
        assertEquals(0, nanCount(vGot));
        assertEquals((long) rows * kvDim, pool - nanCount(got[2]), "k must land at the rows' slots and nowhere else");
        assertTrue(relativeL2(kGot, want[1]) < 1e-2, "k relative L2 " + relativeL2(kGot, want[1]));
        assertTrue(relativeL2(vGot, want[2]) < 1e-2, "v relative L2 " + relativeL2(vGot, want[2]));
    }

    /** [q rows*qDim, k rows*kvDim, v rows*kvDim]: bias added, q and k rotated by pos * invFreq[i] (f32 angle). */
    private static double[][] ropeReference(float[] qkv, float[] bias, float[] invFreq, int hd, int qDim, int kvDim) {
        int n = qDim + 2 * kvDim;
        int half = hd / 2;
        int rows = ROPE_POS.length;
        double[] q = new double[rows * qDim];
        double[] kk = new double[rows * kvDim];
        double[] v = new double[rows * kvDim];
        for (int row = 0; row < rows; row++) {
            for (int c = 0; c < n; c++) {
                int head = c / hd;
                int i = c % hd;
                double x = qkv[row * n + c] + bias[c];
                if (c < qDim + kvDim) {
                    int j = i % half;
                    double angle = (float) ROPE_POS[row] * invFreq[j];
                    int mate = head * hd + (i < half ? i + half : i - half);
                    double y = qkv[row * n + mate] + bias[mate];
                    x = i < half ? x * Math.cos(angle) * ROPE_SCALE - y * Math.sin(angle) * ROPE_SCALE
                            : x * Math.cos(angle) * ROPE_SCALE + y * Math.sin(angle) * ROPE_SCALE;
                }
                if (c < qDim) q[row * qDim + c] = x;
                else if (c < qDim + kvDim) kk[row * kvDim + c - qDim] = x;
                else v[row * kvDim + c - qDim - kvDim] = x;
            }
        }
        return new double[][] {q, kk, v};
    }
}

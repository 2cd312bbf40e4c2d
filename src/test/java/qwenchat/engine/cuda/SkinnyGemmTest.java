package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static qwenchat.engine.cuda.DeviceData.*;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The weight-streaming skinny GEMMs against a double-precision Java product at Qwen2.5-7B shapes, for
 * 16, 33 (a masked batch tile) and 64 activation rows. Outputs that are stored (not accumulated) are
 * poisoned with NaN first, so an element no block wrote fails.
 */
@Tag("gpu")
class SkinnyGemmTest {
    static final int HIDDEN = 3584;
    static final int INTER = 18944;
    static final int QKV = 4608;
    static final int VOCAB = 152064;

    /** Rows the partial buffer holds: 256 (a whole wide decode pass). */
    static final int MAX_ROWS = 256;

    static CudaContext ctx;
    static KernelModule module;
    static DeviceBuffer partials;
    static DeviceBuffer counters;

    @BeforeAll
    static void load() {
        ctx = GpuTestSupport.context();
        module = ctx.call(KernelModule::load);
        partials = ctx.call(() -> DeviceBuffer.allocate("skinny parts", 4L * SkinnyGemm.partialFloats(MAX_ROWS)));
        counters = ctx.call(() -> {
            DeviceBuffer b = DeviceBuffer.allocate("skinny counters", 4L * SkinnyGemm.counterInts(MAX_ROWS));
            b.zero();
            return b;
        });
    }

    @AfterAll
    static void unload() {
        if (partials != null) ctx.run(partials::close);
        if (counters != null) ctx.run(counters::close);
        if (module != null) ctx.run(module::close);
    }

    /** As the engine builds it: each tile's last split-K part sums the parts. */
    static SkinnyGemm gemm() {
        return new SkinnyGemm(module, ctx.stream(), ctx.multiprocessors(), partials.ptr(), counters.ptr(), MAX_ROWS);
    }

    /** The split-K parts summed by a skinny_splitk_reduce launch instead. */
    static SkinnyGemm gemmWithReduceLaunch() {
        return new SkinnyGemm(module, ctx.stream(), ctx.multiprocessors(), partials.ptr(), null, MAX_ROWS);
    }

    static void assertClose(String what, float[] got, double[] want, double limit) {
        assertEquals(0, nanCount(got), what + ": elements left unwritten (NaN)");
        double rel = relativeL2(got, want);
        System.out.printf("[skinny] %-48s relL2 %.3e%n", what, rel);
        assertTrue(rel < limit, what + ": relative L2 error " + rel + " >= " + limit);
    }

    @ParameterizedTest(name = "m={0}")
    @ValueSource(ints = {1, 16, 33, 64, 100, 256})
    void qkvProjectionInF32WithSplitK(int m) {
        Random r = new Random(21 + m);
        float[] a = roundBf16(gaussian(r, m * HIDDEN, 1.0));
        float[] w = roundBf16(gaussian(r, QKV * HIDDEN, 1.0 / Math.sqrt(HIDDEN)));
        assertTrue(SkinnyGemm.splits(QKV, HIDDEN, SkinnyGemm.H200_RESIDENT_BLOCKS) > 1, "this shape should exercise split-K");
        double[] want = matmul(w, a, QKV, HIDDEN, m);
        float[] got = ctx.call(() -> {
            try (DeviceBuffer da = bf16("a", a); DeviceBuffer dw = bf16("w_qkv", w);
                 DeviceBuffer out = poisonedF32("qkv", (long) m * QKV)) {
                gemm().linearF32(da.ptr(), dw.ptr(), m, QKV, HIDDEN, out.ptr());
                ctx.synchronize();
                return readF32(out, m * QKV);
            }
        });
        assertClose("qkv 4608x3584 f32 m=" + m, got, want, 1e-5);
    }

    @ParameterizedTest(name = "m={0}")
    @ValueSource(ints = {1, 16, 33, 64, 130})
    void oProjAndDownProjAddIntoTheResidualStream(int m) {
        Random r = new Random(31 + m);
        float[] x = gaussian(r, m * HIDDEN, 4.0);
        float[] attn = roundBf16(gaussian(r, m * HIDDEN, 1.0));
        float[] wo = roundBf16(gaussian(r, HIDDEN * HIDDEN, 1.0 / Math.sqrt(HIDDEN)));
        float[] act = roundBf16(gaussian(r, m * INTER, 1.0));
        float[] wd = roundBf16(gaussian(r, HIDDEN * INTER, 1.0 / Math.sqrt(INTER)));
        double[] o = matmul(wo, attn, HIDDEN, HIDDEN, m);
        double[] d = matmul(wd, act, HIDDEN, INTER, m);
        double[] wantO = new double[m * HIDDEN];
        double[] wantD = new double[m * HIDDEN];
        for (int i = 0; i < wantO.length; i++) {
            wantO[i] = x[i] + o[i];
            wantD[i] = wantO[i] + d[i];
        }
        float[][] got = ctx.call(() -> {
            try (DeviceBuffer dx = f32("x", x); DeviceBuffer da = bf16("attn", attn); DeviceBuffer dwo = bf16("w_o", wo);
                 DeviceBuffer dact = bf16("act", act); DeviceBuffer dwd = bf16("w_down", wd)) {
                SkinnyGemm g = gemm();
                g.linearAddF32(da.ptr(), dwo.ptr(), m, HIDDEN, HIDDEN, dx.ptr());
                ctx.synchronize();
                float[] afterO = readF32(dx, m * HIDDEN);
                g.linearAddF32(dact.ptr(), dwd.ptr(), m, HIDDEN, INTER, dx.ptr());
                ctx.synchronize();
                return new float[][] {afterO, readF32(dx, m * HIDDEN)};
            }
        });
        assertClose("x += o_proj 3584x3584 m=" + m, got[0], wantO, 1e-5);
        assertClose("x += down 3584x18944 m=" + m, got[1], wantD, 1e-5);
    }

    @ParameterizedTest(name = "m={0}")
    @ValueSource(ints = {1, 16, 33, 64, 130})
    void swigluOfFusedGateUpMatchesSiluGateTimesUp(int m) {
        Random r = new Random(41 + m);
        float[] a = roundBf16(gaussian(r, m * HIDDEN, 1.0));
        float[] gu = roundBf16(gaussian(r, 2 * INTER * HIDDEN, 2.0 / Math.sqrt(HIDDEN)));  // gate rows, then up
        double[] both = matmul(gu, a, 2 * INTER, HIDDEN, m);
        double[] want = new double[m * INTER];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < INTER; j++) {
                double gate = both[i * 2 * INTER + j];
                double up = both[i * 2 * INTER + INTER + j];
                want[i * INTER + j] = gate / (1 + Math.exp(-gate)) * up;
            }
        }
        float[] got = ctx.call(() -> {
            try (DeviceBuffer da = bf16("a", a); DeviceBuffer dw = bf16("gate_up", gu);
                 DeviceBuffer out = poisonedBf16("act", (long) m * INTER)) {
                gemm().swiglu(da.ptr(), dw.ptr(), m, INTER, HIDDEN, out.ptr());
                ctx.synchronize();
                return readBf16(out, m * INTER);
            }
        });
        assertClose("swiglu 2x18944x3584 m=" + m, got, want, 1e-2);
    }

    @Test
    void lmHeadLogitsForARaggedBatch() {
        int m = 17;  // a masked 32-row batch tile; 17 rows keep the 152064-row double reference quick
        Random r = new Random(51);
        float[] a = roundBf16(gaussian(r, m * HIDDEN, 1.0));
        float[] w = roundBf16(gaussian(r, VOCAB * HIDDEN, 1.0 / Math.sqrt(HIDDEN)));
        assertEquals(1, SkinnyGemm.splits(VOCAB, HIDDEN, SkinnyGemm.H200_RESIDENT_BLOCKS), "enough weight tiles without split-K");
        double[] want = matmul(w, a, VOCAB, HIDDEN, m);
        float[] got = ctx.call(() -> {
            try (DeviceBuffer da = bf16("a", a); DeviceBuffer dw = bf16("lm_head", w);
                 DeviceBuffer out = poisonedF32("logits", (long) m * VOCAB)) {
                gemm().linearF32(da.ptr(), dw.ptr(), m, VOCAB, HIDDEN, out.ptr());
                ctx.synchronize();
                return readF32(out, m * VOCAB);
            }
        });
        assertClose("lm_head 152064x3584 f32 m=17", got, want, 1e-5);
    }

    @Test
    void masksWeightRowsPastARaggedOutputWidth() {
        // 200 outputs: the second 128-row tile is mostly past the end; 72 swiglu outputs likewise.
        int m = 20;
        int n = 200;
        int k = 256;
        Random r = new Random(61);
        float[] a = roundBf16(gaussian(r, m * k, 1.0));
        float[] w = roundBf16(gaussian(r, 2 * n * k, 1.0 / Math.sqrt(k)));
        double[] want = matmul(w, a, n, k, m);  // the first n rows of w
        int inter = 72;
        double[] both = matmul(w, a, 2 * inter, k, m);  // rows 0..143 of w as a fused [2*72][k] gate/up
        double[] wantAct = new double[m * inter];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < inter; j++) {
                double gate = both[i * 2 * inter + j];
                wantAct[i * inter + j] = gate / (1 + Math.exp(-gate)) * both[i * 2 * inter + inter + j];
            }
        }
        float[][] got = ctx.call(() -> {
            try (DeviceBuffer da = bf16("a", a); DeviceBuffer dw = bf16("w", w);
                 DeviceBuffer out = poisonedF32("out", (long) m * n); DeviceBuffer act = poisonedBf16("act", (long) m * inter)) {
                gemm().linearF32(da.ptr(), dw.ptr(), m, n, k, out.ptr());
                gemm().swiglu(da.ptr(), dw.ptr(), m, inter, k, act.ptr());
                ctx.synchronize();
                return new float[][] {readF32(out, m * n), readBf16(act, m * inter)};
            }
        });
        assertClose("ragged 200x256 f32 m=20", got[0], want, 1e-5);
        assertClose("ragged swiglu 2x72x256 m=20", got[1], wantAct, 1e-2);
    }

    /**
     * Batch invariance at the kernel level: the first row's outputs of qkv (split-K store), o_proj
     * (split-K residual add) and swiglu are the same bits when it is computed alone, among 15, 32,
     * 63, 129 and 255 other rows (every batch tile width, and several 64-row tiles), on a rerun, and
     * with the split-K parts summed by a reduce launch instead of each tile's last part.
     */
    @Test
    void aRowsOutputsAreBitIdenticalWhateverRowsShareItsCall() {
        Random r = new Random(71);
        int most = 256;
        float[] a = roundBf16(gaussian(r, most * HIDDEN, 1.0));
        float[] x = gaussian(r, most * HIDDEN, 4.0);
        float[] wq = roundBf16(gaussian(r, QKV * HIDDEN, 1.0 / Math.sqrt(HIDDEN)));
        float[] wo = roundBf16(gaussian(r, HIDDEN * HIDDEN, 1.0 / Math.sqrt(HIDDEN)));
        int inter = 2048;  // a slice of the 7B's gate/up keeps the weight small; k is the real 3584
        float[] gu = roundBf16(gaussian(r, 2 * inter * HIDDEN, 2.0 / Math.sqrt(HIDDEN)));
        assertTrue(SkinnyGemm.splits(QKV, HIDDEN, SkinnyGemm.residentBlocks(132)) > 1, "qkv should exercise split-K");
        assertTrue(SkinnyGemm.splits(HIDDEN, HIDDEN, SkinnyGemm.residentBlocks(132)) > 1, "o_proj should exercise split-K");
        int[] widths = {1, 16, 33, 64, 130, 256, 256, 1, 64, 256};
        int firstLaunchReduce = 7;  // from here on the parts are summed by a reduce launch: the same order, the same bits
        int[][] firstRows = ctx.call(() -> {
            int[][] bits = new int[widths.length][];
            try (DeviceBuffer da = bf16("a", a); DeviceBuffer dwq = bf16("w_qkv", wq); DeviceBuffer dwo = bf16("w_o", wo);
                 DeviceBuffer dgu = bf16("gate_up", gu); DeviceBuffer dx = DeviceBuffer.allocate("x", 4L * most * HIDDEN);
                 DeviceBuffer qkv = poisonedF32("qkv", (long) most * QKV); DeviceBuffer act = poisonedBf16("act", (long) most * inter)) {
                for (int i = 0; i < widths.length; i++) {
                    SkinnyGemm g = i < firstLaunchReduce ? gemm() : gemmWithReduceLaunch();
                    int m = widths[i];
                    dx.copyFromHost(x);
                    g.linearF32(da.ptr(), dwq.ptr(), m, QKV, HIDDEN, qkv.ptr());
                    g.linearAddF32(da.ptr(), dwo.ptr(), m, HIDDEN, HIDDEN, dx.ptr());
                    g.swiglu(da.ptr(), dgu.ptr(), m, inter, HIDDEN, act.ptr());
                    ctx.synchronize();
                    float[] q = readF32(qkv, QKV);
                    float[] o = readF32(dx, HIDDEN);
                    short[] h = new short[inter];
                    act.copyToHost(h);
                    int[] row = new int[QKV + HIDDEN + inter];
                    for (int j = 0; j < QKV; j++) row[j] = Float.floatToRawIntBits(q[j]);
                    for (int j = 0; j < HIDDEN; j++) row[QKV + j] = Float.floatToRawIntBits(o[j]);
                    for (int j = 0; j < inter; j++) row[QKV + HIDDEN + j] = h[j];
                    bits[i] = row;
                }
            }
            return bits;
        });
        for (int i = 1; i < widths.length; i++) {
            assertArrayEquals(firstRows[0], firstRows[i], "row 0 among " + widths[i] + " rows differs from row 0 alone"
                    + (i >= firstLaunchReduce ? " (parts summed by a reduce launch)" : ""));
        }
        int[] left = ctx.call(() -> {
            int[] c = new int[(int) SkinnyGemm.counterInts(MAX_ROWS)];
            counters.copyToHost(c);
            return c;
        });
        assertArrayEquals(new int[left.length], left, "every tile counter is back to 0 for the next launch");
        System.out.printf("[skinny] row 0 of qkv, o_proj (+x) and swiglu: the same bits at %s rows%n",
                java.util.Arrays.toString(widths));
    }
}

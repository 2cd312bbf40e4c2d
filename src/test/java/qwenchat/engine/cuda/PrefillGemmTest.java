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
}

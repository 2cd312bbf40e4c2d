package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static qwenchat.engine.cuda.DeviceData.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import qwenchat.engine.cuda.CudaKernels.GemvArgs;
import qwenchat.engine.cuda.CudaKernels.GemvMode;

/**
 * The decode kernel variants {@link DecodeKernels} switches between, each against a plain-Java
 * reference in double and against the kernels it replaces: group-bucketed and fused split
 * attention, and the GEMVs that fold RMSNorm. Outputs are poisoned with NaN first.
 */
@Tag("gpu")
class DecodeKernelVariantsTest {
    static final int H = 3584;

    static CudaContext ctx;
    static KernelModule module;
    static CudaKernels k;
    /** The same kernels with the batch-1..8 GEMVs splitting K and streaming their norm sums. */
    static CudaKernels split;

    @BeforeAll
    static void load() {
        ctx = GpuTestSupport.context();
        module = ctx.call(KernelModule::load);
        k = new CudaKernels(module, ctx.stream());
        split = new CudaKernels(module, ctx.stream(), true, true);
    }

    /** How a folded-norm test's kernels sum the squares, for its printout. */
    static String sums(boolean streamed) {
        return streamed ? "streamed" : "block";
    }

    /** The kernels a folded-norm test launches: K split or not, the norm's sums streamed or reduced by each block first. */
    static CudaKernels folding(boolean splitK, boolean streamed) {
        return new CudaKernels(module, ctx.stream(), splitK, streamed);
    }

    @AfterAll
    static void unload() {
        if (module != null) ctx.run(module::close);
    }

    static double[] widen(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    /**
     * How a test runs the decode attention. The MMA_SPAN ones take blocks of that many tokens (several
     * tiles each) and attn_combine; MMA_DIRECT one block a row that writes the rows itself, and
     * MMA_ONE_SPAN_COMBINED the same single span through its partials and attn_combine.
     */
    enum Attention {
        ORIGINAL, BUCKETED, FUSED, FUSED_SIXTEEN_WIDE, MMA, MMA_SPAN_256, MMA_SPAN_1024, MMA_DIRECT, MMA_ONE_SPAN_COMBINED;

        boolean tensorCores() {
            return ordinal() >= MMA.ordinal();
        }

        /** The plan of the MMA_SPAN and one-span variants over rows up to {@code length} positions long. */
        AttentionSplits plan(int length) {
            int span = switch (this) {
                case MMA_SPAN_256 -> 256;
                case MMA_SPAN_1024 -> 1024;
                case MMA_DIRECT, MMA_ONE_SPAN_COMBINED -> Integer.highestOneBit(2 * length - 1);
                default -> throw new IllegalStateException(this + " has no span plan");
            };
            int grid = (length + span - 1) / span;
            return new AttentionSplits(span, grid, this == MMA_DIRECT);
        }
    }

    static Stream<Arguments> groupsHeadDimsAndVariants() {
        List<Arguments> a = new ArrayList<>();
        for (int group : new int[] {1, 3, 5, 7, 8, 12, 16}) {
            for (int hd : new int[] {64, 128}) {
                for (Attention v : Attention.values()) a.add(Arguments.of(group, hd, v));
            }
        }
        return a.stream();
    }

    /** Rows of two sequences through blocks of 48 tokens: one split, exactly one, many with a short last one. */
    static final int[] SLOTS = {0, 1, 0, 1, 0};
    static final int[] POS = {0, 63, 64, 700, 2100};

    record AttentionRun(float[] out, float[] outBf16, int[] counters) { }

    /** One attention problem over {@link #SLOTS}: q f32, K and V rounded to bf16 in shuffled pools of blockSize-token blocks. */
    record Operands(int heads, int kvHeads, int hd, float[] q, float[] kc, float[] vc, PagedLayout kv) {
        static Operands random(Random r, int heads, int kvHeads, int hd, int blockSize, int spareBlocks) {
            PagedLayout kv = PagedLayout.shuffled(r, new int[] {2101, 701}, blockSize, kvHeads, hd, spareBlocks);
            float[] q = gaussian(r, SLOTS.length * heads * hd, 1.0);
            float[] kc = roundBf16(gaussian(r, (int) kv.poolElements(), 1.0));
            float[] vc = roundBf16(gaussian(r, (int) kv.poolElements(), 1.0));
            return new Operands(heads, kvHeads, hd, q, kc, vc, kv);
        }

        AttentionRun attend(Attention v, int repeats) {
            return DecodeKernelVariantsTest.attend(v, heads, kvHeads, hd, q, kc, vc, kv, repeats);
        }
    }

    static AttentionRun attend(Attention v, int heads, int kvHeads, int hd, float[] q, float[] kc, float[] vc, PagedLayout kv,
                               int repeats) {
        int rows = SLOTS.length;
        int qDim = heads * hd;
        int splits = CudaKernels.splitsFor(2101);
        float scale = (float) (1 / Math.sqrt(hd));
        return ctx.call(() -> {
            try (DeviceBuffer dq = f32("q", q); DeviceBuffer dk = bf16("k", kc); DeviceBuffer dv = bf16("v", vc);
                 DeviceBuffer ds = i32("slots", SLOTS); DeviceBuffer dp = i32("pos", POS);
                 DeviceBuffer dt = i32("block table", kv.table());
                 DeviceBuffer po = DeviceBuffer.allocate("partO", 4L * rows * heads * splits * hd);
                 DeviceBuffer pm = DeviceBuffer.allocate("partMl", 8L * rows * heads * splits);
                 DeviceBuffer cnt = DeviceBuffer.allocate("counters", 4L * rows * kvHeads);
                 DeviceBuffer out = poisonedF32("out", (long) rows * qDim);
                 DeviceBuffer outB = poisonedBf16("out bf16", (long) rows * qDim)) {
                cnt.zero();
                CudaCheck.check(jcuda.driver.JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
                CudaKernels.PagedKv paged = new CudaKernels.PagedKv(dt.ptr(), kv.maxBlocksPerSeq, kv.blockSize);
                for (int i = 0; i < repeats; i++) {
                    // Poisoned again before each launch: a launch that skipped its combine would leave NaNs.
                    // The memsets run on the legacy stream, the kernels on the context's non-blocking one.
                    ctx.synchronize();
                    out.fill32(Float.floatToRawIntBits(Float.NaN));
                    outB.fill16((short) 0x7FC0);
                    CudaCheck.check(jcuda.driver.JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
                    switch (v) {
                        case ORIGINAL, BUCKETED -> {
                            k.attentionPartial(dq.ptr(), dk.ptr(), dv.ptr(), ds.ptr(), dp.ptr(), po.ptr(), pm.ptr(), rows, heads,
                                    kvHeads, hd, paged, splits, splits, scale, v == Attention.BUCKETED);
                            k.attentionCombine(po.ptr(), pm.ptr(), dp.ptr(), out.ptr(), outB.ptr(), rows, heads, hd, splits);
                        }
                        case MMA -> {
                            k.attentionPartialMma(dq.ptr(), dk.ptr(), dv.ptr(), ds.ptr(), dp.ptr(), po.ptr(), pm.ptr(), rows, heads,
                                    kvHeads, hd, paged, splits, splits, scale);
                            k.attentionCombine(po.ptr(), pm.ptr(), dp.ptr(), out.ptr(), outB.ptr(), rows, heads, hd, splits);
                        }
                        case FUSED, FUSED_SIXTEEN_WIDE -> k.attentionFused(dq.ptr(), dk.ptr(), dv.ptr(), ds.ptr(), dp.ptr(),
                                po.ptr(), pm.ptr(), cnt.ptr(), out.ptr(), outB.ptr(), rows, heads, kvHeads, hd, paged, splits, splits,
                                scale, v == Attention.FUSED);
                        case MMA_SPAN_256, MMA_SPAN_1024, MMA_DIRECT, MMA_ONE_SPAN_COMBINED -> k.attention(
                                new CudaKernels.AttentionOperands(dq.ptr(), dk.ptr(), dv.ptr(), ds.ptr(), dp.ptr(), po.ptr(), pm.ptr(),
                                        null, out.ptr(), outB.ptr(), splits), rows, heads, kvHeads, hd, paged,
                                v.plan(POS[POS.length - 1] + 1), scale, DecodeKernels.defaults());
                    }
                }
                ctx.synchronize();
                int[] c = new int[rows * kvHeads];
                cnt.copyToHost(c);
                return new AttentionRun(readF32(out, rows * qDim), readBf16(outB, rows * qDim), c);
            }
        });
    }

    static double[] softmaxAttention(int heads, int kvHeads, int hd, float[] q, float[] kc, float[] vc, PagedLayout kv) {
        if (kv.kvHeads != kvHeads || kv.headDim != hd) throw new IllegalArgumentException("layout for another shape");
        return kv.attention(q, kc, vc, SLOTS, POS, heads, 1 / Math.sqrt(hd));
    }

    @ParameterizedTest(name = "group {0}, head_dim {1}, {2}")
    @MethodSource("groupsHeadDimsAndVariants")
    void everyAttentionVariantMatchesSoftmaxAndTheOriginalKernels(int group, int hd, Attention variant) {
        checkAttentionVariant(group, hd, variant, 48);
    }

    /**
     * The tensor-core partials through 64-token blocks, where each tile lies in one block (the
     * kernels' one-lookup path; blocks of 48 above take the row-by-row one): one tile a block, four,
     * and one block a row.
     */
    @ParameterizedTest(name = "group {0}, head_dim {1}")
    @CsvSource({"7, 128", "8, 128", "16, 128", "2, 64", "7, 64"})
    void tensorCoreAttentionMatchesSoftmaxThroughBlocksOfWholeSplits(int group, int hd) {
        for (Attention v : new Attention[] {Attention.MMA, Attention.MMA_SPAN_256, Attention.MMA_DIRECT}) {
            checkAttentionVariant(group, hd, v, 64);
        }
    }

    static void checkAttentionVariant(int group, int hd, Attention variant, int blockSize) {
        int kvHeads = 2;
        int heads = group * kvHeads;
        Operands in = Operands.random(new Random(31L * group + hd), heads, kvHeads, hd, blockSize, 5);
        AttentionRun got = in.attend(variant, 1);
        AttentionRun original = in.attend(Attention.ORIGINAL, 1);
        assertEquals(0, nanCount(got.out()), "unwritten attention outputs");
        assertArrayEquals(roundBf16(got.out().clone()), got.outBf16(), "bf16 output is the f32 one rounded");
        double rel = relativeL2(got.out(), softmaxAttention(heads, kvHeads, hd, in.q(), in.kc(), in.vc(), in.kv()));
        double vsOriginal = relativeL2(got.out(), widen(original.out()));
        System.out.printf("[kernel] attention %s group %d hd %d blocks of %d: relL2 %.3e vs softmax, %.3e vs original%n",
                variant, group, hd, blockSize, rel, vsOriginal);
        if (variant.tensorCores()) {
            // q and p rounded to bf16 for the MMAs, as prefill flash attention rounds them.
            assertTrue(rel < 1e-2, "relL2 vs softmax " + rel);
            assertTrue(vsOriginal < 1e-2, "relL2 vs the original kernels " + vsOriginal);
            return;
        }
        assertTrue(rel < 1e-4, "relL2 vs softmax " + rel);
        // The same partials summed in the same split order; only the softmax denominator's tree differs.
        assertTrue(vsOriginal < 1e-6, "relL2 vs the original kernels " + vsOriginal);
    }

    /**
     * A block that covers its row whole finishes it with attn_combine's arithmetic for one split, so
     * skipping the combine changes no bit; and blocks of several tiles stay within the one-tile
     * blocks' rounding of softmax.
     */
    @ParameterizedTest(name = "group {0}, head_dim {1}")
    @CsvSource({"7, 128", "16, 128", "1, 128", "7, 64", "3, 64"})
    void aBlockThatCoversItsRowWritesWhatTheCombineOfItsOneSplitWould(int group, int hd) {
        Operands in = Operands.random(new Random(57L * group + hd), 2 * group, 2, hd, 64, 5);
        AttentionRun direct = in.attend(Attention.MMA_DIRECT, 1);
        AttentionRun combined = in.attend(Attention.MMA_ONE_SPAN_COMBINED, 1);
        AttentionRun oneTile = in.attend(Attention.MMA, 1);
        assertEquals(0, nanCount(direct.out()), "unwritten attention outputs");
        assertArrayEquals(combined.out(), direct.out(), "direct rows vs the combine of one split");
        assertArrayEquals(combined.outBf16(), direct.outBf16(), "direct bf16 rows vs the combine of one split");
        double vsOneTile = relativeL2(direct.out(), widen(oneTile.out()));
        System.out.printf("[kernel] one block a row, group %d hd %d: relL2 %.3e vs one-tile blocks%n", group, hd, vsOneTile);
        assertTrue(vsOneTile < 1e-2, "relL2 vs one-tile blocks " + vsOneTile);
    }

    @ParameterizedTest(name = "head_dim {0}")
    @ValueSource(ints = {64, 128})
    void fusedAttentionLeavesItsCountersZeroSoEveryLaunchCombinesAgain(int hd) {
        Operands in = Operands.random(new Random(hd), 28, 4, hd, 16, 3);
        AttentionRun once = in.attend(Attention.FUSED, 1);
        AttentionRun thrice = in.attend(Attention.FUSED, 3);
        assertArrayEquals(new int[SLOTS.length * in.kvHeads()], thrice.counters(), "split counters after three launches");
        assertEquals(0, nanCount(thrice.out()), "a repeated launch left outputs uncombined");
        // Which split finishes last varies between launches; the combine's order does not.
        assertArrayEquals(once.out(), thrice.out(), "repeated launches agree bit for bit");
    }

    // ---- GEMVs that fold RMSNorm ----

    record NormCase(float[] x, float[] normW, float eps, int[] rowIndex) {
        /** The normed activation rows the folded kernels see, in double: w * x * rstd (Qwen2Forward#rmsNorm). */
        float[] normed(int rows, int k) {
            float[] out = new float[rows * k];
            for (int b = 0; b < rows; b++) {
                int src = (rowIndex == null ? b : rowIndex[b]) * k;
                double ss = 0;
                for (int i = 0; i < k; i++) ss += (double) x[src + i] * x[src + i];
                double rstd = 1 / Math.sqrt(ss / k + eps);
                for (int i = 0; i < k; i++) out[b * k + i] = (float) (normW[i] * (x[src + i] * rstd));
            }
            return out;
        }
    }

    static NormCase normCase(Random r, int xRows, int k, int[] rowIndex) {
        float[] x = gaussian(r, xRows * k, 3.0);
        float[] w = gaussian(r, k, 0.1);
        for (int i = 0; i < k; i++) w[i] += 1f;
        return new NormCase(x, roundBf16(w), 1e-6f, rowIndex);
    }

    /** The same GEMV through rmsnorm_rows + the plain kernel, as the engine ran it before folding. */
    static void separateNormThenGemv(GemvMode mode, DeviceBuffer dw, DeviceBuffer dx, DeviceBuffer dn, DeviceBuffer idx, int n, int kk,
                                     int rows, NormCase c, DeviceBuffer xn, GemvArgs a) {
        k.rmsnorm(dx.ptr(), dn.ptr(), xn.ptr(), idx == null ? null : idx.ptr(), rows, kk, c.eps());
        k.gemv(mode, dw.ptr(), xn.ptr(), n, kk, rows, a);
    }

    @ParameterizedTest(name = "rows {0}, K split {1}, streamed norm {2}")
    @CsvSource({"1, false, false", "2, false, false", "5, false, true", "8, false, true", "1, true, true", "5, true, true",
            "8, true, false", "1, true, false", "1, false, true"})
    void normFoldingLmHeadGemvMatchesNormThenProjectionOnSelectedRows(int rows, boolean splitK, boolean streamed) {
        int n = 32006;  // 16003 row pairs: the last block of 8 warps is partly idle
        Random r = new Random(40 + rows);
        int xRows = rows + 3;
        int[] pick = new int[rows];
        for (int b = 0; b < rows; b++) pick[b] = (xRows - 1 - 2 * b + 2 * xRows) % xRows;
        NormCase c = normCase(r, xRows, H, pick);
        float[] w = roundBf16(gaussian(r, n * H, 0.02));
        float[][] got = ctx.call(() -> {
            try (DeviceBuffer dw = bf16("w", w); DeviceBuffer dx = f32("x", c.x()); DeviceBuffer dn = bf16("norm", c.normW());
                 DeviceBuffer idx = i32("rows", pick); DeviceBuffer xn = DeviceBuffer.allocate("xn", 4L * rows * H);
                 DeviceBuffer folded = poisonedF32("folded", (long) rows * n);
                 DeviceBuffer separate = poisonedF32("separate", (long) rows * n)) {
                folding(splitK, streamed).gemvNormed(GemvMode.PLAIN, dw.ptr(), dx.ptr(), dn.ptr(), idx.ptr(), c.eps(), n, H, rows,
                        GemvArgs.out(folded.ptr()));
                separateNormThenGemv(GemvMode.PLAIN, dw, dx, dn, idx, n, H, rows, c, xn, GemvArgs.out(separate.ptr()));
                ctx.synchronize();
                return new float[][] {readF32(folded, rows * n), readF32(separate, rows * n)};
            }
        });
        assertEquals(0, nanCount(got[0]), "unwritten logits");
        double rel = relativeL2(got[0], matmul(w, c.normed(rows, H), n, H, rows));
        double vsSeparate = relativeL2(got[0], widen(got[1]));
        System.out.printf("[kernel] norm-folding lm_head rows %d, K over %d warps, %s sums: relL2 %.3e, %.3e vs separate norm%n",
                rows, folding(splitK, streamed).gemvSplits(GemvMode.PLAIN, H, rows), sums(streamed), rel, vsSeparate);
        assertTrue(rel < 1e-4, "relL2 " + rel);
        assertTrue(vsSeparate < 1e-5, "relL2 vs the separate norm " + vsSeparate);
    }

    @ParameterizedTest(name = "rows {0}, K split {1}, streamed norm {2}")
    @CsvSource({"1, false, false", "3, false, true", "8, false, false", "1, true, true", "3, true, false", "8, true, true",
            "1, false, true", "1, true, false"})
    void normFoldingSwigluGemvMatchesNormThenGateUp(int rows, boolean splitK, boolean streamed) {
        int inter = 4736;
        Random r = new Random(50 + rows);
        NormCase c = normCase(r, rows, H, null);
        float[] w = roundBf16(gaussian(r, 2 * inter * H, 0.02));
        float[][] got = ctx.call(() -> {
            try (DeviceBuffer dw = bf16("w", w); DeviceBuffer dx = f32("x", c.x()); DeviceBuffer dn = bf16("norm", c.normW());
                 DeviceBuffer xn = DeviceBuffer.allocate("xn", 4L * rows * H);
                 DeviceBuffer folded = poisonedF32("folded", (long) rows * inter);
                 DeviceBuffer separate = poisonedF32("separate", (long) rows * inter)) {
                folding(splitK, streamed).gemvNormed(GemvMode.SWIGLU, dw.ptr(), dx.ptr(), dn.ptr(), null, c.eps(), 2 * inter, H, rows,
                        GemvArgs.swiglu(folded.ptr()));
                separateNormThenGemv(GemvMode.SWIGLU, dw, dx, dn, null, 2 * inter, H, rows, c, xn,
                        GemvArgs.swiglu(separate.ptr()));
                ctx.synchronize();
                return new float[][] {readF32(folded, rows * inter), readF32(separate, rows * inter)};
            }
        });
        double[] gu = matmul(w, c.normed(rows, H), 2 * inter, H, rows);
        double[] want = new double[rows * inter];
        for (int b = 0; b < rows; b++) {
            for (int j = 0; j < inter; j++) {
                double g = gu[b * 2 * inter + j];
                double u = gu[b * 2 * inter + inter + j];
                want[b * inter + j] = g / (1 + Math.exp(-g)) * u;
            }
        }
        assertEquals(0, nanCount(got[0]), "unwritten activations");
        double rel = relativeL2(got[0], want);
        double vsSeparate = relativeL2(got[0], widen(got[1]));
        System.out.printf("[kernel] norm-folding swiglu rows %d, K over %d warps, %s sums: relL2 %.3e, %.3e vs separate norm%n",
                rows, folding(splitK, streamed).gemvSplits(GemvMode.SWIGLU, H, rows), sums(streamed), rel, vsSeparate);
        assertTrue(rel < 1e-4, "relL2 " + rel);
        assertTrue(vsSeparate < 1e-5, "relL2 vs the separate norm " + vsSeparate);
    }

    @ParameterizedTest(name = "rows {0}, K split {1}, streamed norm {2}")
    @CsvSource({"1, false, false", "4, false, true", "1, true, true", "4, true, false", "1, false, true", "1, true, false"})
    void normFoldingQkvGemvWritesTheSameQAndCacheAsNormThenQkv(int rows, boolean splitK, boolean streamed) {
        int heads = 28;
        int kvHeads = 4;
        int hd = 128;
        int qDim = heads * hd;
        int kvDim = kvHeads * hd;
        int n = qDim + 2 * kvDim;
        Random r = new Random(60 + rows);
        NormCase c = normCase(r, rows, H, null);
        float[] w = roundBf16(gaussian(r, n * H, 0.02));
        float[] bias = roundBf16(gaussian(r, n, 1.0));
        int[] slots = new int[rows];
        int[] pos = new int[rows];
        int[] lengths = new int[rows];
        for (int b = 0; b < rows; b++) {
            slots[b] = b;
            pos[b] = 17 + 301 * b;
            lengths[b] = pos[b] + 1;
        }
        PagedLayout kv = PagedLayout.shuffled(r, lengths, 32, kvHeads, hd, 2);
        float[] inv = new float[hd / 2];
        for (int i = 0; i < inv.length; i++) inv[i] = (float) (1 / Math.pow(1e6, (2.0 * i) / hd));
        long cacheElems = kv.poolElements();
        List<float[]> got = ctx.call(() -> {
            try (DeviceBuffer dw = bf16("w", w); DeviceBuffer db = bf16("bias", bias); DeviceBuffer dx = f32("x", c.x());
                 DeviceBuffer dn = bf16("norm", c.normW()); DeviceBuffer xn = DeviceBuffer.allocate("xn", 4L * rows * H);
                 DeviceBuffer dinv = f32("inv", inv); DeviceBuffer ds = i32("slots", slots); DeviceBuffer dp = i32("pos", pos);
                 DeviceBuffer dt = i32("block table", kv.table());
                 DeviceBuffer q1 = poisonedF32("q folded", (long) rows * qDim);
                 DeviceBuffer q2 = poisonedF32("q separate", (long) rows * qDim);
                 DeviceBuffer k1 = poisonedBf16("k folded", cacheElems); DeviceBuffer v1 = poisonedBf16("v folded", cacheElems);
                 DeviceBuffer k2 = poisonedBf16("k separate", cacheElems); DeviceBuffer v2 = poisonedBf16("v separate", cacheElems)) {
                CudaKernels.PagedKv paged = new CudaKernels.PagedKv(dt.ptr(), kv.maxBlocksPerSeq, kv.blockSize);
                folding(splitK, streamed).gemvNormed(GemvMode.QKV, dw.ptr(), dx.ptr(), dn.ptr(), null, c.eps(), n, H, rows, new GemvArgs(q1.ptr(), null,
                        db.ptr(), dinv.ptr(), 1f, k1.ptr(), v1.ptr(), ds.ptr(), dp.ptr(), qDim, kvDim, hd, paged));
                separateNormThenGemv(GemvMode.QKV, dw, dx, dn, null, n, H, rows, c, xn, new GemvArgs(q2.ptr(), null, db.ptr(),
                        dinv.ptr(), 1f, k2.ptr(), v2.ptr(), ds.ptr(), dp.ptr(), qDim, kvDim, hd, paged));
                ctx.synchronize();
                List<float[]> out = new ArrayList<>();
                out.add(readF32(q1, rows * qDim));
                out.add(readF32(q2, rows * qDim));
                for (DeviceBuffer cache : new DeviceBuffer[] {k1, k2, v1, v2}) {
                    float[] rowsOut = new float[rows * kvDim];
                    for (int b = 0; b < rows; b++) {
                        for (int h = 0; h < kvHeads; h++) {
                            short[] s = new short[hd];
                            cache.copyToHost(jcuda.Pointer.to(s), kv.offset(slots[b], h, pos[b]) * 2, 2L * hd);
                            System.arraycopy(fromBf16(s), 0, rowsOut, b * kvDim + h * hd, hd);
                        }
                    }
                    out.add(rowsOut);
                }
                return out;
            }
        });
        // q against the reference: the normed rows' projection plus bias, then RoPE as in CudaKernelsTest.
        double[] raw = matmul(w, c.normed(rows, H), n, H, rows);
        double[] wantQ = new double[rows * qDim];
        for (int b = 0; b < rows; b++) {
            for (int h = 0; h < heads; h++) {
                int base = h * hd;
                for (int i = 0; i < hd / 2; i++) {
                    float angle = (float) pos[b] * inv[i];
                    double x0 = raw[b * n + base + i] + bias[base + i];
                    double x1 = raw[b * n + base + i + hd / 2] + bias[base + i + hd / 2];
                    wantQ[b * qDim + base + i] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
                    wantQ[b * qDim + base + i + hd / 2] = x1 * Math.cos(angle) + x0 * Math.sin(angle);
                }
            }
        }
        assertEquals(0, nanCount(got.get(0)), "unwritten q");
        assertEquals(0, nanCount(got.get(2)), "unwritten k cache entries");
        assertEquals(0, nanCount(got.get(4)), "unwritten v cache entries");
        double rq = relativeL2(got.get(0), wantQ);
        double qVsSeparate = relativeL2(got.get(0), widen(got.get(1)));
        double kVsSeparate = relativeL2(got.get(2), widen(got.get(3)));
        double vVsSeparate = relativeL2(got.get(4), widen(got.get(5)));
        System.out.printf("[kernel] norm-folding qkv rows %d, K over %d warps, %s sums: q relL2 %.3e; vs separate norm q %.3e"
                + " k %.3e v %.3e%n", rows, folding(splitK, streamed).gemvSplits(GemvMode.QKV, H, rows), sums(streamed), rq,
                qVsSeparate, kVsSeparate, vVsSeparate);
        assertTrue(rq < 1e-4, "q relL2 " + rq);
        assertTrue(qVsSeparate < 1e-5, "q vs the separate norm " + qVsSeparate);
        // bf16 cache entries: an f32 difference of a few ulps flips a rounding now and then.
        assertTrue(kVsSeparate < 1e-3, "k cache vs the separate norm " + kVsSeparate);
        assertTrue(vVsSeparate < 1e-3, "v cache vs the separate norm " + vVsSeparate);
    }

    /** The folded-norm tests' "K split" cases do launch the _ks kernels: 2 or 4 warps a row pair at every tile. */
    @Test
    void theFoldedNormTestsSplitKCasesLaunchTheSplitKernels() {
        for (int rows : new int[] {1, 3, 4, 5, 8}) {
            assertEquals(4, split.gemvSplits(GemvMode.PLAIN, H, rows), "lm_head, rows " + rows);
            assertEquals(4, split.gemvSplits(GemvMode.SWIGLU, H, rows), "swiglu, rows " + rows);
            assertEquals(4, split.gemvSplits(GemvMode.QKV, H, rows), "qkv, rows " + rows);
            assertEquals(1, k.gemvSplits(GemvMode.QKV, H, rows), "unsplit qkv, rows " + rows);
        }
    }

    @Test
    void normFoldingGemvRejectsTheResidualModeAndWideBatches() {
        IllegalArgumentException residual = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> k.gemvNormed(GemvMode.RESIDUAL, null, null, null, null, 1e-6f, 8, 8, 1, GemvArgs.out(null)));
        assertTrue(residual.getMessage().contains("residual"), residual.getMessage());
        IllegalArgumentException wide = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> k.gemvNormed(GemvMode.PLAIN, null, null, null, null, 1e-6f, 8, 8, 9, GemvArgs.out(null)));
        assertTrue(wide.getMessage().contains("1..8"), wide.getMessage());
    }
}

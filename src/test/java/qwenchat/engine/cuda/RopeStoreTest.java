package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static qwenchat.engine.cuda.DeviceData.*;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * qkv_rope_store against a double-precision Java bias add, half-split rotation and paged KV write:
 * rows of two sequences at positions 0 to 3001 (cosines of large angles), non-zero biases, a rope
 * scale other than 1, q in f32 only from row 2. Head dim 128 takes the two-pairs-a-thread path; 6
 * (three pairs a head) the one-pair path.
 */
@Tag("gpu")
class RopeStoreTest {
    static final int Q_HEADS = 3;
    static final int KV_HEADS = 2;
    static final int BLOCK = 64;
    static final int MAX_BLOCKS = 48;
    static final int[] SLOTS = {0, 0, 1, 1, 1};
    static final int[] POS = {0, 5, 63, 64, 3001};
    static final int Q_F32_FROM = 2;
    static final float SCALE = 1.25f;

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

    @ParameterizedTest(name = "head dim {0}")
    @ValueSource(ints = {128, 6})
    void biasRotationAndThePagedKvWriteMatchTheReference(int hd) {
        int half = hd / 2;
        int qDim = Q_HEADS * hd;
        int kvDim = KV_HEADS * hd;
        int n = qDim + 2 * kvDim;
        int rows = POS.length;
        Random r = new Random(hd);
        float[] qkv = gaussian(r, rows * n, 2.0);
        float[] bias = roundBf16(gaussian(r, n, 3.0));  // large, as Qwen2.5's k_proj biases are
        float[] invFreq = new float[half];
        for (int i = 0; i < half; i++) invFreq[i] = (float) Math.pow(1e6, -2.0 * i / hd);
        // Sequence 0 in physical blocks 5, 9, ...; sequence 1 in blocks 2, 7, 12, ...: no two alike.
        int[] table = new int[2 * MAX_BLOCKS];
        for (int b = 0; b < MAX_BLOCKS; b++) {
            table[b] = 5 + 4 * b;
            table[MAX_BLOCKS + b] = 2 + 5 * b;
        }
        int totalBlocks = 2 + 5 * MAX_BLOCKS;
        long pool = (long) totalBlocks * KV_HEADS * BLOCK * hd;

        double[][] want = reference(qkv, bias, invFreq, hd, qDim, kvDim);
        float[][] got = ctx.call(() -> {
            try (DeviceBuffer dqkv = f32("qkv", qkv); DeviceBuffer db = bf16("bias", bias); DeviceBuffer df = f32("inv freq", invFreq);
                 DeviceBuffer qOut = poisonedF32("q f32", (long) rows * qDim); DeviceBuffer qBf = poisonedBf16("q bf16", (long) rows * qDim);
                 DeviceBuffer kPool = poisonedBf16("k pool", pool); DeviceBuffer vPool = poisonedBf16("v pool", pool);
                 DeviceBuffer slots = i32("slots", SLOTS); DeviceBuffer pos = i32("pos", POS); DeviceBuffer bt = i32("block table", table)) {
                k.qkvRopeStore(dqkv.ptr(), db.ptr(), df.ptr(), SCALE, qOut.ptr(), qBf.ptr(), kPool.ptr(), vPool.ptr(), slots.ptr(),
                        pos.ptr(), rows, qDim, kvDim, hd, new CudaKernels.PagedKv(bt.ptr(), MAX_BLOCKS, BLOCK), null, Q_F32_FROM);
                ctx.synchronize();
                return new float[][] {readF32(qOut, rows * qDim), readBf16(qBf, rows * qDim), readBf16(kPool, (int) pool),
                        readBf16(vPool, (int) pool)};
            }
        });

        float[] qF32 = new float[(rows - Q_F32_FROM) * qDim];
        System.arraycopy(got[0], Q_F32_FROM * qDim, qF32, 0, qF32.length);
        double[] qWant = new double[qF32.length];
        System.arraycopy(want[0], Q_F32_FROM * qDim, qWant, 0, qWant.length);
        assertEquals(Q_F32_FROM * qDim, nanCount(got[0]), "q f32 must be written from row " + Q_F32_FROM + " on, and only there");
        assertEquals(0, nanCount(qF32));
        assertTrue(relativeL2(qF32, qWant) < 1e-5, "q f32 relative L2 " + relativeL2(qF32, qWant));
        assertEquals(0, nanCount(got[1]), "q bf16 is written for every row");
        assertTrue(relativeL2(got[1], want[0]) < 1e-2, "q bf16 relative L2 " + relativeL2(got[1], want[0]));

        float[] kGot = new float[rows * kvDim];
        float[] vGot = new float[rows * kvDim];
        for (int row = 0; row < rows; row++) {
            for (int h = 0; h < KV_HEADS; h++) {
                int blk = table[SLOTS[row] * MAX_BLOCKS + POS[row] / BLOCK];
                int at = ((blk * KV_HEADS + h) * BLOCK + POS[row] % BLOCK) * hd;
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
    private static double[][] reference(float[] qkv, float[] bias, float[] invFreq, int hd, int qDim, int kvDim) {
        int n = qDim + 2 * kvDim;
        int half = hd / 2;
        int rows = POS.length;
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
                    double angle = (float) POS[row] * invFreq[j];
                    int mate = head * hd + (i < half ? i + half : i - half);
                    double y = qkv[row * n + mate] + bias[mate];
                    x = i < half ? x * Math.cos(angle) * SCALE - y * Math.sin(angle) * SCALE
                            : x * Math.cos(angle) * SCALE + y * Math.sin(angle) * SCALE;
                }
                if (c < qDim) q[row * qDim + c] = x;
                else if (c < qDim + kvDim) kk[row * kvDim + c - qDim] = x;
                else v[row * kvDim + c - qDim - kvDim] = x;
            }
        }
        return new double[][] {q, kk, v};
    }
}

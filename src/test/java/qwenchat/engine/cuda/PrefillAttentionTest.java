package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static qwenchat.engine.cuda.DeviceData.*;

import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

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

    @BeforeAll
    static void load() {
        ctx = GpuTestSupport.context();
        module = ctx.call(KernelModule::load);
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

    @ParameterizedTest(name = "tokens={0} past={1} block size={2}")
    @CsvSource({"1, 0, 64", "70, 0, 16", "70, 130, 48", "1, 400, 128", "200, 311, 64", "200, 311, 16", "129, 0, 1000"})
    void matchesCausalGqaAttentionOverPagedCacheAndChunk(int tokens, int past, int blockSize) {
        Random r = new Random(31L * tokens + past + blockSize);
        int qkvWidth = (Q_HEADS + 2 * KV_HEADS) * HD;
        float[] qkv = roundBf16(gaussian(r, tokens * qkvWidth, 1.2));  // peaked enough that masking errors show
        int seq = 1;  // row 1 of the table, so a kernel that ignored the row offset would read sequence 0's keys
        PagedLayout kv = PagedLayout.shuffled(r, new int[] {257, past + tokens}, blockSize, KV_HEADS, HD, 3);
        float[] kc = roundBf16(gaussian(r, (int) kv.poolElements(), 1.0));
        float[] vc = roundBf16(gaussian(r, (int) kv.poolElements(), 1.0));
        double[] want = reference(qkv, kc, vc, kv, seq, tokens, past);
        PrefillAttention attn = new PrefillAttention(module, ctx.stream());
        float[] got = ctx.call(() -> {
            try (DeviceBuffer dq = bf16("qkv", qkv); DeviceBuffer dk = bf16("k pool", kc); DeviceBuffer dv = bf16("v pool", vc);
                 DeviceBuffer dt = i32("block table", kv.table());
                 DeviceBuffer out = poisonedBf16("attn out", (long) tokens * Q_HEADS * HD)) {
                attn.causal(dq.ptr(), dk.ptr(), dv.ptr(), dt.at(4L * seq * kv.maxBlocksPerSeq), kv.blockSize, out.ptr(),
                        PrefillAttention.Strides.fusedQkv(Q_HEADS, KV_HEADS), tokens, past, Q_HEADS, KV_HEADS);
                ctx.synchronize();
                return readBf16(out, tokens * Q_HEADS * HD);
            }
        });
        assertEquals(0, nanCount(got), "elements left unwritten (NaN)");
        double rel = relativeL2(got, want);
        System.out.printf("[prefill] %-44s relL2 %.3e%n", "attention tokens=" + tokens + " past=" + past + " block=" + blockSize, rel);
        assertTrue(rel < 1e-2, "relative L2 error " + rel);
    }

    /** The grid's block order (heads on x or on y) changes when each block runs, never what it computes. */
    @Test
    void theBlockOrderOfTheGridLeavesEveryOutputBitAsItWas() {
        int tokens = 333;
        int past = 70;
        Random r = new Random(5);
        int qkvWidth = (Q_HEADS + 2 * KV_HEADS) * HD;
        float[] qkv = roundBf16(gaussian(r, tokens * qkvWidth, 1.2));
        PagedLayout kv = PagedLayout.shuffled(r, new int[] {past + tokens}, 64, KV_HEADS, HD, 2);
        float[] kc = roundBf16(gaussian(r, (int) kv.poolElements(), 1.0));
        float[] vc = roundBf16(gaussian(r, (int) kv.poolElements(), 1.0));
        float[][] got = ctx.call(() -> {
            try (DeviceBuffer dq = bf16("qkv", qkv); DeviceBuffer dk = bf16("k pool", kc); DeviceBuffer dv = bf16("v pool", vc);
                 DeviceBuffer dt = i32("block table", kv.table());
                 DeviceBuffer a = poisonedBf16("heads fastest", (long) tokens * Q_HEADS * HD);
                 DeviceBuffer b = poisonedBf16("heads slowest", (long) tokens * Q_HEADS * HD)) {
                PrefillAttention.Strides st = PrefillAttention.Strides.fusedQkv(Q_HEADS, KV_HEADS);
                new PrefillAttention(module, ctx.stream(), true).causal(dq.ptr(), dk.ptr(), dv.ptr(), dt.ptr(), kv.blockSize,
                        a.ptr(), st, tokens, past, Q_HEADS, KV_HEADS);
                new PrefillAttention(module, ctx.stream(), false).causal(dq.ptr(), dk.ptr(), dv.ptr(), dt.ptr(), kv.blockSize,
                        b.ptr(), st, tokens, past, Q_HEADS, KV_HEADS);
                ctx.synchronize();
                return new float[][] {readBf16(a, tokens * Q_HEADS * HD), readBf16(b, tokens * Q_HEADS * HD)};
            }
        });
        assertEquals(0, nanCount(got[0]), "elements left unwritten (NaN)");
        assertArrayEquals(got[0], got[1]);
    }
}

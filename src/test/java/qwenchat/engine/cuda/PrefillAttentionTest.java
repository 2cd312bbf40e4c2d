package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static qwenchat.engine.cuda.DeviceData.*;

import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Prefill attention against a double-precision Java causal GQA attention at Qwen2.5-7B head counts,
 * reading Q from fused qkv rows and K/V from a slot of a [kvHeads][maxT][128] cache whose unused
 * tail holds random data the kernel must not see.
 */
@Tag("gpu")
class PrefillAttentionTest {
    static final int Q_HEADS = 28;
    static final int KV_HEADS = 4;
    static final int HD = PrefillAttention.HEAD_DIM;
    static final int MAX_T = 512;

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
    static double[] reference(float[] qkv, float[] kc, float[] vc, int tokens, int past) {
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
                for (int d = 0; d < HD; d++) dot += (double) qkv[i * qkvWidth + h * HD + d] * kc[(kvh * MAX_T + j) * HD + d];
                s[j] = dot * scale;
                max = Math.max(max, s[j]);
            }
            double sum = 0;
            for (int j = 0; j < keys; j++) sum += s[j] = Math.exp(s[j] - max);
            for (int d = 0; d < HD; d++) {
                double acc = 0;
                for (int j = 0; j < keys; j++) acc += s[j] * vc[(kvh * MAX_T + j) * HD + d];
                out[(i * Q_HEADS + h) * HD + d] = acc / sum;
            }
        });
        return out;
    }

    @ParameterizedTest(name = "tokens={0} past={1}")
    @CsvSource({"1, 0", "70, 0", "70, 130", "1, 400", "200, 311"})
    void matchesCausalGqaAttentionOverCacheAndChunk(int tokens, int past) {
        Random r = new Random(31L * tokens + past);
        int qkvWidth = (Q_HEADS + 2 * KV_HEADS) * HD;
        float[] qkv = roundBf16(gaussian(r, tokens * qkvWidth, 1.2));  // peaked enough that masking errors show
        float[] kc = roundBf16(gaussian(r, KV_HEADS * MAX_T * HD, 1.0));
        float[] vc = roundBf16(gaussian(r, KV_HEADS * MAX_T * HD, 1.0));
        double[] want = reference(qkv, kc, vc, tokens, past);
        PrefillAttention attn = new PrefillAttention(module, ctx.stream());
        float[] got = ctx.call(() -> {
            try (DeviceBuffer dq = bf16("qkv", qkv); DeviceBuffer dk = bf16("k cache", kc); DeviceBuffer dv = bf16("v cache", vc);
                 DeviceBuffer out = poisonedBf16("attn out", (long) tokens * Q_HEADS * HD)) {
                attn.causal(dq.ptr(), dk.ptr(), dv.ptr(), out.ptr(), PrefillAttention.Strides.fusedQkv(Q_HEADS, KV_HEADS, MAX_T),
                        tokens, past, Q_HEADS, KV_HEADS);
                ctx.synchronize();
                return readBf16(out, tokens * Q_HEADS * HD);
            }
        });
        assertEquals(0, nanCount(got), "elements left unwritten (NaN)");
        double rel = relativeL2(got, want);
        System.out.printf("[prefill] %-44s relL2 %.3e%n", "attention tokens=" + tokens + " past=" + past, rel);
        assertTrue(rel < 1e-2, "relative L2 error " + rel);
    }
}

package qwenchat.engine.cuda;

import java.util.Random;
import java.util.stream.IntStream;
import qwenchat.weights.Bf16;

/** Host-side helpers for kernel tests: random data, bf16 rounding, uploads and comparisons. */
final class DeviceData {
    private DeviceData() {
    }

    /**
     * Zero-mean random values with standard deviation {@code std} (uniform, so it is cheap enough for
     * the half-billion elements of a 7B lm_head), generated in parallel but reproducibly from {@code r}.
     */
    static float[] gaussian(Random r, int n, double std) {
        float[] a = new float[n];
        long seed = r.nextLong();
        float span = (float) (std * Math.sqrt(3));
        int chunk = 1 << 20;
        IntStream.range(0, (n + chunk - 1) / chunk).parallel().forEach(c -> {
            java.util.SplittableRandom sr = new java.util.SplittableRandom(seed + c);
            for (int i = c * chunk, end = Math.min(n, i + chunk); i < end; i++) a[i] = span * (2 * sr.nextFloat() - 1);
        });
        return a;
    }

    /** Rounds every element to bf16 in place (so the CPU reference sees the kernel's operands) and returns it. */
    static float[] roundBf16(float[] a) {
        IntStream.range(0, a.length).parallel().forEach(i -> a[i] = Bf16.toFloat(Bf16.fromFloat(a[i])));
        return a;
    }

    static short[] toBf16(float[] a) {
        short[] s = new short[a.length];
        IntStream.range(0, a.length).parallel().forEach(i -> s[i] = Bf16.fromFloat(a[i]));
        return s;
    }

    static float[] fromBf16(short[] s) {
        float[] a = new float[s.length];
        for (int i = 0; i < s.length; i++) a[i] = Bf16.toFloat(s[i]);
        return a;
    }

    static DeviceBuffer bf16(String name, float[] a) {
        DeviceBuffer b = DeviceBuffer.allocate(name, 2L * a.length);
        b.copyFromHost(toBf16(a));
        return b;
    }

    static DeviceBuffer f32(String name, float[] a) {
        DeviceBuffer b = DeviceBuffer.allocate(name, 4L * a.length);
        b.copyFromHost(a);
        return b;
    }

    static DeviceBuffer i32(String name, int[] a) {
        DeviceBuffer b = DeviceBuffer.allocate(name, 4L * a.length);
        b.copyFromHost(a);
        return b;
    }

    /** A buffer of {@code n} floats, every one NaN, so an element the kernel skips stays visible. */
    static DeviceBuffer poisonedF32(String name, long n) {
        DeviceBuffer b = DeviceBuffer.allocate(name, 4L * n);
        b.fill32(Float.floatToRawIntBits(Float.NaN));
        return b;
    }

    /** bf16 NaN (0x7FC0) in every element. */
    static DeviceBuffer poisonedBf16(String name, long n) {
        DeviceBuffer b = DeviceBuffer.allocate(name, 2L * n);
        b.fill16((short) 0x7FC0);
        return b;
    }

    static float[] readF32(DeviceBuffer b, int n) {
        float[] a = new float[n];
        b.copyToHost(a);
        return a;
    }

    static float[] readBf16(DeviceBuffer b, int n) {
        short[] s = new short[n];
        b.copyToHost(s);
        return fromBf16(s);
    }

    static int nanCount(float[] a) {
        int n = 0;
        for (float v : a) if (Float.isNaN(v)) n++;
        return n;
    }

    static double relativeL2(float[] got, double[] want) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < want.length; i++) {
            double d = got[i] - want[i];
            num += d * d;
            den += want[i] * want[i];
        }
        return Math.sqrt(num / den);
    }

    /** out[b][n] = sum_k w[n][k] * x[b][k] in double, rows of w in parallel. */
    static double[] matmul(float[] w, float[] x, int n, int k, int rows) {
        double[] out = new double[rows * n];
        IntStream.range(0, n).parallel().forEach(j -> {
            for (int b = 0; b < rows; b++) {
                double s = 0;
                int wo = j * k;
                int xo = b * k;
                for (int i = 0; i < k; i++) s += (double) w[wo + i] * x[xo + i];
                out[b * n + j] = s;
            }
        });
        return out;
    }
}

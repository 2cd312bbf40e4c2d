package qwenchat.demo;

/**
 * Normal deviates from splitmix64 and Box-Muller with StrictMath, so the demo weights are the same
 * bits on every JDK and machine (java.util.Random's Gaussian algorithm is not specified that tightly).
 */
final class SeededGaussian {

    private long state;

    SeededGaussian(long seed) {
        this.state = seed;
    }

    private long nextLong() {
        long z = (state += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Uniform in (0, 1]. */
    private double nextUniform() {
        return ((nextLong() >>> 11) + 1) * 0x1.0p-53;
    }

    float[] fill(int n, double mean, double std) {
        float[] out = new float[n];
        for (int i = 0; i < n; i += 2) {
            double r = StrictMath.sqrt(-2 * StrictMath.log(nextUniform()));
            double a = 2 * Math.PI * nextUniform();
            out[i] = (float) (mean + std * r * StrictMath.cos(a));
            if (i + 1 < n) out[i + 1] = (float) (mean + std * r * StrictMath.sin(a));
        }
        return out;
    }
}

package qwenchat.engine.sampling;

/**
 * The uniform number behind a sequence's n-th draw: a pure function of {@code (seed, n)}, so the
 * CPU and CUDA samplers agree bit for bit however sequences are batched. The CUDA sampler must
 * reproduce exactly this, in unsigned 64-bit integer arithmetic (wrap-around multiply, logical
 * shifts):
 *
 * <pre>
 *   mix(z):  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
 *            z = (z ^ (z >> 27)) * 0x94D049BB133111EB
 *            return z ^ (z >> 31)                       (the splitmix64 finaliser)
 *   bits  = mix(mix(seed) + (n + 1) * 0x9E3779B97F4A7C15)
 *   u     = (bits >> 11) * 2^-53                         (a double in [0, 1), exact)
 * </pre>
 *
 * Mixing the seed first keeps nearby seeds (1, 2, 3...) from giving shifted copies of one stream.
 */
public final class CounterUniform {

    private CounterUniform() {
    }

    public static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public static long bits(long seed, long n) {
        return mix(mix(seed) + (n + 1) * 0x9E3779B97F4A7C15L);
    }

    public static double uniform(long seed, long n) {
        return (bits(seed, n) >>> 11) * 0x1.0p-53;
    }
}

package qwenchat.engine;

import java.util.Arrays;

/**
 * Which q/k/v projection biases a forward pass leaves out, per layer: the bias lab's ablation.
 * The weights stay as loaded; engines skip the masked bias adds in their QKV epilogues, so one
 * request may run ablated while the rest of its batch runs normally.
 */
public final class BiasMask {

    /** Bit of {@link #bits(int)} that drops the layer's q_proj bias. */
    public static final int Q = KernelLimits.BIAS_Q;
    /** Bit that drops the k_proj bias. */
    public static final int K = KernelLimits.BIAS_K;
    /** Bit that drops the v_proj bias. */
    public static final int V = KernelLimits.BIAS_V;

    private final byte[] bits; // [layers]

    private BiasMask(byte[] bits) {
        this.bits = bits;
    }

    /**
     * Drops the chosen projections' biases in layers {@code from..to} (inclusive, 0-based).
     *
     * @param projections an OR of {@link #Q}, {@link #K} and {@link #V}
     */
    public static BiasMask ablate(int layers, int from, int to, int projections) {
        if (layers < 1) throw new IllegalArgumentException("a model has at least one layer, got " + layers);
        if (from < 0 || to >= layers || from > to) {
            throw new IllegalArgumentException("layer range " + from + ".." + to + " is not within 0.." + (layers - 1)
                    + " with from <= to");
        }
        if ((projections & ~(Q | K | V)) != 0) {
            throw new IllegalArgumentException("projection bits must be an OR of Q=1, K=2, V=4, got " + projections);
        }
        byte[] b = new byte[layers];
        for (int l = from; l <= to; l++) b[l] = (byte) projections;
        return new BiasMask(b);
    }

    /** Drops nothing: a pass under it computes exactly what an unmasked pass does. */
    public static BiasMask none(int layers) {
        if (layers < 1) throw new IllegalArgumentException("a model has at least one layer, got " + layers);
        return new BiasMask(new byte[layers]);
    }

    public int layers() {
        return bits.length;
    }

    /** The {@link #Q}/{@link #K}/{@link #V} bits dropped in {@code layer}. */
    public int bits(int layer) {
        return bits[layer];
    }

    /** Whether {@code layer} keeps the bias of {@code projection} ({@link #Q}, {@link #K} or {@link #V}). */
    public boolean keeps(int layer, int projection) {
        return (bits[layer] & projection) == 0;
    }

    /** True when no layer drops anything. */
    public boolean isEmpty() {
        for (byte b : bits) if (b != 0) return false;
        return true;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BiasMask m && Arrays.equals(bits, m.bits);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bits);
    }

    @Override
    public String toString() {
        return "BiasMask" + Arrays.toString(bits);
    }
}

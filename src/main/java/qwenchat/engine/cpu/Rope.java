package qwenchat.engine.cpu;

import qwenchat.model.ModelConfig;
import qwenchat.model.RopeScaling;

/**
 * Rotary position embedding, half-split as in Qwen2 (element i pairs with i + headDim/2). The
 * frequencies are computed in float32 step by step as transformers 5 computes them, YaRN included,
 * so positions far into a 128K window rotate exactly as in the reference.
 */
public final class Rope {

    private final float[] invFreq; // [headDim/2]
    private final float attentionScaling;

    private Rope(float[] invFreq, float attentionScaling) {
        this.invFreq = invFreq;
        this.attentionScaling = attentionScaling;
    }

    public static Rope of(ModelConfig config) {
        int dim = config.headDim();
        double base = config.ropeTheta();
        float[] posFreqs = new float[dim / 2];
        for (int i = 0; i < dim / 2; i++) {
            posFreqs[i] = (float) Math.pow(base, (float) (2 * i) / (float) dim);
        }
        RopeScaling s = config.ropeScaling();
        float[] inv = new float[dim / 2];
        if (s == null || !s.isYarn()) {
            for (int i = 0; i < inv.length; i++) inv[i] = 1.0f / posFreqs[i];
            return new Rope(inv, 1.0f);
        }
        // YaRN: dimensions that rotate fewer than beta_slow times over the original window are
        // interpolated (divided by factor), those rotating more than beta_fast times are kept, and
        // a linear ramp blends the ones between. transformers truncates the range to whole dims.
        float factor = (float) s.factor();
        double low = Math.floor(correctionDim(s.betaFast(), dim, base, s.originalMaxPositionEmbeddings()));
        double high = Math.ceil(correctionDim(s.betaSlow(), dim, base, s.originalMaxPositionEmbeddings()));
        low = Math.max(low, 0);
        high = Math.min(high, dim - 1);
        if (low == high) high += 0.001;
        for (int i = 0; i < inv.length; i++) {
            float extrapolation = 1.0f / posFreqs[i];
            float interpolation = 1.0f / (factor * posFreqs[i]);
            float ramp = ((float) i - (float) low) / (float) (high - low);
            ramp = Math.min(1f, Math.max(0f, ramp));
            float keep = 1f - ramp;
            inv[i] = interpolation * (1f - keep) + extrapolation * keep;
        }
        return new Rope(inv, (float) s.effectiveAttentionFactor());
    }

    /** The dimension index at which a frequency completes {@code rotations} turns over {@code window} positions. */
    private static double correctionDim(double rotations, int dim, double base, int window) {
        return dim * Math.log(window / (rotations * 2 * Math.PI)) / (2 * Math.log(base));
    }

    public float[] invFreq() {
        return invFreq.clone();
    }

    /** YaRN's attention factor, applied to cos and sin (so to both q and k); 1 without scaling. */
    public float attentionScaling() {
        return attentionScaling;
    }

    /** cos and sin of every frequency at {@code position}, scaled by the attention factor; {@code [headDim/2]} each. */
    void cosSin(int position, float[] cos, float[] sin) {
        for (int i = 0; i < invFreq.length; i++) {
            float angle = invFreq[i] * (float) position;
            cos[i] = (float) Math.cos(angle) * attentionScaling;
            sin[i] = (float) Math.sin(angle) * attentionScaling;
        }
    }

    /** Rotates {@code heads} consecutive heads of {@code headDim} in {@code v} starting at {@code off}. */
    static void rotate(float[] v, int off, int heads, int headDim, float[] cos, float[] sin) {
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            int b = off + h * headDim;
            for (int i = 0; i < half; i++) {
                float x1 = v[b + i];
                float x2 = v[b + i + half];
                v[b + i] = x1 * cos[i] - x2 * sin[i];
                v[b + i + half] = x2 * cos[i] + x1 * sin[i];
            }
        }
    }
}

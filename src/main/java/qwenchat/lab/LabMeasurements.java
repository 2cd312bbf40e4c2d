package qwenchat.lab;

import qwenchat.engine.LabProbe;

/**
 * The numbers a lab run reports, computed from the two probes (biases live and ablated) at the
 * last prompt position. One place decides what each number is; docs/bias-lab.md explains them.
 *
 * @param klPerLayer logit-lens KL divergence per layer, in nats: with p = softmax(lm_head(norm(h_L)))
 *     of the live run and q the same of the ablated run, where h_L is the residual stream after layer
 *     L at the last prompt position, {@code KL(p || q) = sum_i p_i (log p_i - log q_i)}. The last
 *     layer's value is the KL of the two runs' real next-token distributions.
 * @param liveEntropy per layer and query head, the live run's attention entropy in nats ({@code [layers][heads]})
 * @param ablatedEntropy the same for the ablated run
 * @param liveSinkMass per layer and query head, the live run's attention weight on the first token
 * @param ablatedSinkMass the same for the ablated run
 * @param liveTop1 per layer, the id the live run's logit lens ranks first
 * @param ablatedTop1 the same for the ablated run
 */
public record LabMeasurements(double[] klPerLayer, float[][] liveEntropy, float[][] ablatedEntropy,
        float[][] liveSinkMass, float[][] ablatedSinkMass, int[] liveTop1, int[] ablatedTop1) {

    public static LabMeasurements of(LabProbe live, LabProbe ablated) {
        int layers = live.layerLogits().length;
        if (ablated.layerLogits().length != layers) {
            throw new IllegalArgumentException("the probes cover " + layers + " and " + ablated.layerLogits().length + " layers");
        }
        double[] kl = new double[layers];
        int[] top1Live = new int[layers];
        int[] top1Ablated = new int[layers];
        for (int l = 0; l < layers; l++) {
            kl[l] = kl(live.layerLogits()[l], ablated.layerLogits()[l]);
            top1Live[l] = argmax(live.layerLogits()[l]);
            top1Ablated[l] = argmax(ablated.layerLogits()[l]);
        }
        return new LabMeasurements(kl, live.attentionEntropy(), ablated.attentionEntropy(), live.sinkMass(),
                ablated.sinkMass(), top1Live, top1Ablated);
    }

    /** KL(softmax(p) || softmax(q)) in nats, in double. */
    static double kl(float[] pLogits, float[] qLogits) {
        double[] lp = logSoftmax(pLogits);
        double[] lq = logSoftmax(qLogits);
        double sum = 0;
        for (int i = 0; i < lp.length; i++) {
            double p = Math.exp(lp[i]);
            if (p > 0) sum += p * (lp[i] - lq[i]);
        }
        // Rounding can leave a tiny negative for identical distributions; KL itself never is.
        return Math.max(0, sum);
    }

    static double[] logSoftmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float f : logits) max = Math.max(max, f);
        double z = 0;
        for (float f : logits) z += Math.exp(f - max);
        double lz = max + Math.log(z);
        double[] out = new double[logits.length];
        for (int i = 0; i < logits.length; i++) out[i] = logits[i] - lz;
        return out;
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        return best;
    }

    public int layers() {
        return klPerLayer.length;
    }

    public int heads() {
        return liveEntropy.length == 0 ? 0 : liveEntropy[0].length;
    }
}

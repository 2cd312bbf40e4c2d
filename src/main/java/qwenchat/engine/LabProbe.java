package qwenchat.engine;

/**
 * What a probed pass measured at one query position (the last row of a prompt).
 *
 * @param layerLogits logit lens: for each layer L, final RMSNorm and lm_head applied to the
 *     residual stream after layer L at the probed position ({@code [layers][vocab]}); the last
 *     layer's row is the pass's own logits
 * @param attentionEntropy per layer and query head, the entropy (nats) of the probed query's
 *     attention distribution over every key it sees, {@code -sum p log p} ({@code [layers][heads]})
 * @param sinkMass per layer and query head, the attention weight on position 0 ({@code [layers][heads]})
 */
public record LabProbe(float[][] layerLogits, float[][] attentionEntropy, float[][] sinkMass) {
}

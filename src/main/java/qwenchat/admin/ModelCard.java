package qwenchat.admin;

import java.util.List;
import qwenchat.model.ModelConfig;
import qwenchat.model.RopeScaling;
import qwenchat.serving.ServedModel;

/**
 * What the dashboard and {@code /actuator/info} say about the loaded model: architecture and
 * provenance, no weights.
 *
 * @param contextLength the model's own window (YaRN-extended when scaled)
 * @param servedContextLength tokens per request this server accepts (bounded by the KV slot size)
 * @param ropeScaling e.g. "yarn ×4 (from 32768)", or null
 * @param biasNorms per-layer L2 norms of the q/k/v biases; null until computed or when there are none
 */
public record ModelCard(
        String name,
        String sourceDirectory,
        boolean demo,
        long parameters,
        int layers,
        int hiddenSize,
        int intermediateSize,
        int heads,
        int kvHeads,
        int headDim,
        int vocabSize,
        int contextLength,
        int servedContextLength,
        double ropeTheta,
        String ropeScaling,
        String dtype,
        boolean tiedEmbeddings,
        Boolean qkvBias,
        BiasNorms biasNorms) {

    /** Per-layer L2 norms of {@code self_attn.{q,k,v}_proj.bias}, index = layer. */
    public record BiasNorms(List<Double> q, List<Double> k, List<Double> v) {
    }

    static ModelCard of(ServedModel m, Boolean qkvBias, BiasNorms norms) {
        ModelConfig c = m.config();
        return new ModelCard(m.name(), m.sourceDirectory(), m.demo(), c.parameterCount(), c.numHiddenLayers(),
                c.hiddenSize(), c.intermediateSize(), c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim(),
                c.vocabSize(), c.contextLength(), m.contextLength(), c.ropeTheta(), describe(c.ropeScaling()),
                c.torchDtype(), c.tieWordEmbeddings(), qkvBias, norms);
    }

    private static String describe(RopeScaling s) {
        if (s == null) return null;
        return s.type() + " ×" + trim(s.factor()) + " (from " + s.originalMaxPositionEmbeddings() + ")";
    }

    private static String trim(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }
}

package qwenchat.admin;

import java.util.ArrayList;
import java.util.List;
import qwenchat.weights.Checkpoint;
import qwenchat.weights.Tensor;

/**
 * Reads the q/k/v projection biases from a checkpoint and reduces each to its L2 norm: a quick
 * sign that the checkpoint is a real Qwen2 (large k biases are typical) and not zeros.
 */
final class BiasNormReader {

    private BiasNormReader() {
    }

    /** The norms, or null when the checkpoint has no q/k/v biases. */
    static ModelCard.BiasNorms read(Checkpoint checkpoint, int layers) {
        if (!checkpoint.has(name(0, "q"))) return null;
        List<Double> q = new ArrayList<>(layers);
        List<Double> k = new ArrayList<>(layers);
        List<Double> v = new ArrayList<>(layers);
        for (int i = 0; i < layers; i++) {
            q.add(norm(checkpoint, name(i, "q")));
            k.add(norm(checkpoint, name(i, "k")));
            v.add(norm(checkpoint, name(i, "v")));
        }
        return new ModelCard.BiasNorms(List.copyOf(q), List.copyOf(k), List.copyOf(v));
    }

    static String name(int layer, String proj) {
        return "model.layers." + layer + ".self_attn." + proj + "_proj.bias";
    }

    static double l2(float[] values) {
        double sum = 0;
        for (float x : values) sum += (double) x * x;
        return Math.sqrt(sum);
    }

    private static double norm(Checkpoint checkpoint, String name) {
        if (!checkpoint.has(name)) throw new IllegalArgumentException(checkpoint.source() + ": tensor '" + name + "' is missing");
        Tensor t = checkpoint.tensor(name);
        return l2(t.toFloatArray());
    }
}

package qwenchat.engine.cpu;

import java.util.List;
import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.WeightOverrides;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;
import qwenchat.weights.SafetensorsException;
import qwenchat.weights.Tensor;

/** All weights of a Qwen2 checkpoint as the CPU engine uses them: matrices mapped, small vectors as floats. */
record ModelWeights(
        Bf16Matrix embed,        // [vocab][hidden]
        LayerWeights[] layers,
        float[] finalNorm,       // [hidden]
        Bf16Matrix lmHead,       // [vocab][hidden]; the embedding itself when tied
        long bytes) {

    static ModelWeights load(ModelConfig c, Checkpoint ckpt, WeightOverrides overrides, LoadProgressListener progress) {
        ckpt.validateAgainst(c);
        Loader l = new Loader(c, ckpt, progress);
        Bf16Matrix embed = l.matrix("model.embed_tokens.weight", c.vocabSize(), c.hiddenSize());
        LayerWeights[] layers = new LayerWeights[c.numHiddenLayers()];
        for (int i = 0; i < layers.length; i++) {
            String p = "model.layers." + i + ".";
            float[] qb = l.vector(p + "self_attn.q_proj.bias", c.qDim());
            float[] kb = l.vector(p + "self_attn.k_proj.bias", c.kvDim());
            float[] vb = l.vector(p + "self_attn.v_proj.bias", c.kvDim());
            if (overrides.zeroQkvBiases()) {
                qb = new float[qb.length];
                kb = new float[kb.length];
                vb = new float[vb.length];
            }
            layers[i] = new LayerWeights(
                    l.vector(p + "input_layernorm.weight", c.hiddenSize()),
                    l.matrix(p + "self_attn.q_proj.weight", c.qDim(), c.hiddenSize()), qb,
                    l.matrix(p + "self_attn.k_proj.weight", c.kvDim(), c.hiddenSize()), kb,
                    l.matrix(p + "self_attn.v_proj.weight", c.kvDim(), c.hiddenSize()), vb,
                    l.matrix(p + "self_attn.o_proj.weight", c.hiddenSize(), c.qDim()),
                    l.vector(p + "post_attention_layernorm.weight", c.hiddenSize()),
                    l.matrix(p + "mlp.gate_proj.weight", c.intermediateSize(), c.hiddenSize()),
                    l.matrix(p + "mlp.up_proj.weight", c.intermediateSize(), c.hiddenSize()),
                    l.matrix(p + "mlp.down_proj.weight", c.hiddenSize(), c.intermediateSize()));
        }
        float[] norm = l.vector("model.norm.weight", c.hiddenSize());
        Bf16Matrix head = c.tieWordEmbeddings() ? embed : l.matrix("lm_head.weight", c.vocabSize(), c.hiddenSize());
        return new ModelWeights(embed, layers, norm, head, l.done);
    }

    /** Maps tensors one by one, checking each shape and reporting progress. */
    private static final class Loader {
        final ModelConfig config;
        final Checkpoint ckpt;
        final LoadProgressListener progress;
        final long total;
        long done;

        Loader(ModelConfig config, Checkpoint ckpt, LoadProgressListener progress) {
            this.config = config;
            this.ckpt = ckpt;
            this.progress = progress;
            this.total = ckpt.totalBytes();
        }

        Tensor tensor(String name, List<Long> shape) {
            if (!ckpt.has(name)) throw new SafetensorsException("checkpoint has no tensor '" + name + "'");
            Tensor t = ckpt.tensor(name);
            if (!t.info().shape().equals(shape)) {
                throw new SafetensorsException("tensor '" + name + "' has shape " + t.info().shape()
                        + ", but config.json implies " + shape);
            }
            done += t.info().byteLength();
            progress.onProgress(done, total, name);
            return t;
        }

        Bf16Matrix matrix(String name, int rows, int cols) {
            return new Bf16Matrix(name, tensor(name, List.of((long) rows, (long) cols)));
        }

        float[] vector(String name, int length) {
            return tensor(name, List.of((long) length)).toFloatArray();
        }
    }
}

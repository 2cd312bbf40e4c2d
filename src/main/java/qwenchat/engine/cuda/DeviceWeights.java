package qwenchat.engine.cuda;

import java.util.ArrayList;
import java.util.List;
import qwenchat.engine.LoadProgressListener;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;
import qwenchat.weights.Tensor;

/**
 * The model's weights on the device, all bf16, in the layouts the kernels want: q/k/v fused into
 * one [qDim+2*kvDim][hidden] matrix with a concatenated bias, gate and up fused into one
 * [2*intermediate][hidden] matrix (gate rows first). lm_head aliases the embedding when tied.
 */
final class DeviceWeights implements AutoCloseable {

    record Layer(DeviceBuffer inputNorm,   // [hidden]
                 DeviceBuffer qkv,         // [qDim+2*kvDim][hidden]
                 DeviceBuffer qkvBias,     // [qDim+2*kvDim]
                 DeviceBuffer o,           // [hidden][qDim]
                 DeviceBuffer postNorm,    // [hidden]
                 DeviceBuffer gateUp,      // [2*intermediate][hidden]
                 DeviceBuffer down) {      // [hidden][intermediate]
    }

    final DeviceBuffer embed;      // [vocab][hidden]
    final DeviceBuffer finalNorm;  // [hidden]
    final DeviceBuffer lmHead;     // [vocab][hidden]; == embed when tied
    final List<Layer> layers;
    private final List<DeviceBuffer> all;

    private DeviceWeights(DeviceBuffer embed, DeviceBuffer finalNorm, DeviceBuffer lmHead, List<Layer> layers,
                          List<DeviceBuffer> all) {
        this.embed = embed;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.layers = layers;
        this.all = all;
    }

    /** Bytes the device copy takes: every parameter as bf16. */
    static long deviceBytes(ModelConfig c) {
        return c.parameterCount() * 2;
    }

    /** Names of the tensors the engine reads, in upload order. */
    static List<String> tensorNames(ModelConfig c) {
        List<String> names = new ArrayList<>();
        names.add("model.embed_tokens.weight");
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            names.add(p + "input_layernorm.weight");
            for (String m : new String[] {"q", "k", "v"}) {
                names.add(p + "self_attn." + m + "_proj.weight");
                names.add(p + "self_attn." + m + "_proj.bias");
            }
            names.add(p + "self_attn.o_proj.weight");
            names.add(p + "post_attention_layernorm.weight");
            names.add(p + "mlp.gate_proj.weight");
            names.add(p + "mlp.up_proj.weight");
            names.add(p + "mlp.down_proj.weight");
        }
        names.add("model.norm.weight");
        if (!c.tieWordEmbeddings()) names.add("lm_head.weight");
        return names;
    }

    static DeviceWeights upload(ModelConfig c, Checkpoint ckpt, WeightUploader up) {
        List<DeviceBuffer> all = new ArrayList<>();
        try {
            long h = c.hiddenSize();
            DeviceBuffer embed = alloc(all, "model.embed_tokens.weight", (long) c.vocabSize() * h * 2);
            up.upload(ckpt.tensor("model.embed_tokens.weight"), embed, 0);
            List<Layer> layers = new ArrayList<>();
            for (int i = 0; i < c.numHiddenLayers(); i++) {
                String p = "model.layers." + i + ".";
                DeviceBuffer inNorm = single(all, ckpt, up, p + "input_layernorm.weight", h * 2);
                DeviceBuffer qkv = alloc(all, p + "self_attn.qkv (fused)", (long) c.qkvDim() * h * 2);
                DeviceBuffer qkvBias = alloc(all, p + "self_attn.qkv_bias (fused)", (long) c.qkvDim() * 2);
                long off = 0;
                long boff = 0;
                for (String m : new String[] {"q", "k", "v"}) {
                    off += up.upload(ckpt.tensor(p + "self_attn." + m + "_proj.weight"), qkv, off);
                    boff += up.upload(ckpt.tensor(p + "self_attn." + m + "_proj.bias"), qkvBias, boff);
                }
                DeviceBuffer o = single(all, ckpt, up, p + "self_attn.o_proj.weight", h * c.qDim() * 2);
                DeviceBuffer postNorm = single(all, ckpt, up, p + "post_attention_layernorm.weight", h * 2);
                DeviceBuffer gateUp = alloc(all, p + "mlp.gate_up (fused)", 2L * c.intermediateSize() * h * 2);
                long g = up.upload(ckpt.tensor(p + "mlp.gate_proj.weight"), gateUp, 0);
                up.upload(ckpt.tensor(p + "mlp.up_proj.weight"), gateUp, g);
                DeviceBuffer down = single(all, ckpt, up, p + "mlp.down_proj.weight", h * c.intermediateSize() * 2);
                layers.add(new Layer(inNorm, qkv, qkvBias, o, postNorm, gateUp, down));
            }
            DeviceBuffer norm = single(all, ckpt, up, "model.norm.weight", h * 2);
            DeviceBuffer lmHead = c.tieWordEmbeddings() ? embed
                    : single(all, ckpt, up, "lm_head.weight", (long) c.vocabSize() * h * 2);
            up.finish();
            return new DeviceWeights(embed, norm, lmHead, List.copyOf(layers), all);
        } catch (RuntimeException | Error e) {
            for (DeviceBuffer b : all) {
                try {
                    b.close();
                } catch (RuntimeException ignored) {
                    // already failing: the first error is the one to report
                }
            }
            throw e;
        }
    }

    private static DeviceBuffer alloc(List<DeviceBuffer> all, String name, long bytes) {
        DeviceBuffer b = DeviceBuffer.allocate(name, bytes);
        all.add(b);
        return b;
    }

    private static DeviceBuffer single(List<DeviceBuffer> all, Checkpoint ckpt, WeightUploader up, String name, long bytes) {
        Tensor t = ckpt.tensor(name);
        DeviceBuffer b = alloc(all, name, bytes);
        up.upload(t, b, 0);
        return b;
    }

    long bytes() {
        long n = 0;
        for (DeviceBuffer b : all) n += b.bytes();
        return n;
    }

    @Override
    public void close() {
        for (DeviceBuffer b : all) b.close();
    }
}

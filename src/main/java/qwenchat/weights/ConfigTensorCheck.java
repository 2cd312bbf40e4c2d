package qwenchat.weights;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import qwenchat.model.ModelConfig;

/** Compares a checkpoint's tensors with those a Qwen2 config implies; one error lists every problem. */
final class ConfigTensorCheck {

    private ConfigTensorCheck() {
    }

    /** Name to shape of every tensor {@code config} needs (lm_head only when untied). */
    static Map<String, List<Long>> expectedTensors(ModelConfig c) {
        long hidden = c.hiddenSize();
        long q = c.qDim();
        long kv = c.kvDim();
        long inter = c.intermediateSize();
        Map<String, List<Long>> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", List.of((long) c.vocabSize(), hidden));
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            m.put(p + "input_layernorm.weight", List.of(hidden));
            m.put(p + "self_attn.q_proj.weight", List.of(q, hidden));
            m.put(p + "self_attn.q_proj.bias", List.of(q));
            m.put(p + "self_attn.k_proj.weight", List.of(kv, hidden));
            m.put(p + "self_attn.k_proj.bias", List.of(kv));
            m.put(p + "self_attn.v_proj.weight", List.of(kv, hidden));
            m.put(p + "self_attn.v_proj.bias", List.of(kv));
            m.put(p + "self_attn.o_proj.weight", List.of(hidden, q));
            m.put(p + "post_attention_layernorm.weight", List.of(hidden));
            m.put(p + "mlp.gate_proj.weight", List.of(inter, hidden));
            m.put(p + "mlp.up_proj.weight", List.of(inter, hidden));
            m.put(p + "mlp.down_proj.weight", List.of(hidden, inter));
        }
        m.put("model.norm.weight", List.of(hidden));
        if (!c.tieWordEmbeddings()) m.put("lm_head.weight", List.of((long) c.vocabSize(), hidden));
        return m;
    }

    static void check(Checkpoint checkpoint, ModelConfig config) {
        Map<String, List<Long>> expected = expectedTensors(config);
        List<String> missingBias = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        List<String> wrongShape = new ArrayList<>();
        for (Map.Entry<String, List<Long>> e : expected.entrySet()) {
            String name = e.getKey();
            if (!checkpoint.has(name)) {
                (isQkvBias(name) ? missingBias : missing).add(name);
            } else if (!checkpoint.info(name).shape().equals(e.getValue())) {
                wrongShape.add(name + " is " + checkpoint.info(name).shape() + ", expected " + e.getValue());
            }
        }
        List<String> oProjBias = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        for (String name : checkpoint.tensorNames()) {
            if (expected.containsKey(name) || tolerated(name, config)) continue;
            (name.endsWith("self_attn.o_proj.bias") ? oProjBias : unexpected).add(name);
        }
        if (lmHeadTiedButMismatched(checkpoint, config)) {
            wrongShape.add("lm_head.weight is " + checkpoint.info("lm_head.weight").shape()
                    + ", expected " + List.of((long) config.vocabSize(), (long) config.hiddenSize()));
        }

        List<String> problems = new ArrayList<>();
        section(problems, missingBias, "missing q/k/v biases (Qwen2 needs q/k/v biases)");
        section(problems, oProjBias, "unexpected o_proj biases (Qwen2's o_proj has no bias)");
        section(problems, missing, "missing tensors");
        section(problems, wrongShape, "wrong shapes");
        section(problems, unexpected, "unexpected tensors");
        if (!problems.isEmpty()) {
            throw new SafetensorsException(checkpoint.source() + ": checkpoint does not match the config ("
                    + config.numHiddenLayers() + " layers, hidden " + config.hiddenSize() + ", "
                    + config.numAttentionHeads() + "/" + config.numKeyValueHeads() + " heads, vocab "
                    + config.vocabSize() + "): " + String.join("; ", problems));
        }
    }

    private static boolean isQkvBias(String name) {
        return name.endsWith("self_attn.q_proj.bias") || name.endsWith("self_attn.k_proj.bias")
                || name.endsWith("self_attn.v_proj.bias");
    }

    /** Tied checkpoints sometimes still carry lm_head; older exports carry rotary inv_freq buffers. */
    private static boolean tolerated(String name, ModelConfig config) {
        return (config.tieWordEmbeddings() && name.equals("lm_head.weight")) || name.endsWith("rotary_emb.inv_freq");
    }

    private static boolean lmHeadTiedButMismatched(Checkpoint checkpoint, ModelConfig config) {
        return config.tieWordEmbeddings() && checkpoint.has("lm_head.weight")
                && !checkpoint.info("lm_head.weight").shape()
                        .equals(List.of((long) config.vocabSize(), (long) config.hiddenSize()));
    }

    private static void section(List<String> problems, List<String> names, String title) {
        if (!names.isEmpty()) problems.add(names.size() + " " + title + ": " + NameList.of(names));
    }
}

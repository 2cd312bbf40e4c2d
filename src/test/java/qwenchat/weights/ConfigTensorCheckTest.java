package qwenchat.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import qwenchat.model.ModelConfig;

/** Checkpoint.validateAgainst: the tensors a Qwen2 config implies, by name and shape. */
class ConfigTensorCheckTest {

    @TempDir
    Path dir;

    /** hidden 8, inter 12, 2 layers, 4 query heads of dim 2, 2 kv heads, vocab 16. */
    private static ModelConfig tiny(boolean tied, int layers) {
        return new ModelConfig("qwen2", 8, 12, layers, 4, 2, 2, 16, 64, 1e6, 1e-6, tied, null, "bfloat16");
    }

    /** The tensors of a Qwen2 checkpoint for {@link #tiny}, written out from the architecture by hand. */
    private static Map<String, List<Long>> qwen2Tensors(int layers, boolean withLmHead) {
        Map<String, List<Long>> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", List.of(16L, 8L));
        for (int i = 0; i < layers; i++) {
            String p = "model.layers." + i + ".";
            m.put(p + "input_layernorm.weight", List.of(8L));
            m.put(p + "self_attn.q_proj.weight", List.of(8L, 8L));   // 4 heads * 2
            m.put(p + "self_attn.q_proj.bias", List.of(8L));
            m.put(p + "self_attn.k_proj.weight", List.of(4L, 8L));   // 2 kv heads * 2
            m.put(p + "self_attn.k_proj.bias", List.of(4L));
            m.put(p + "self_attn.v_proj.weight", List.of(4L, 8L));
            m.put(p + "self_attn.v_proj.bias", List.of(4L));
            m.put(p + "self_attn.o_proj.weight", List.of(8L, 8L));
            m.put(p + "post_attention_layernorm.weight", List.of(8L));
            m.put(p + "mlp.gate_proj.weight", List.of(12L, 8L));
            m.put(p + "mlp.up_proj.weight", List.of(12L, 8L));
            m.put(p + "mlp.down_proj.weight", List.of(8L, 12L));
        }
        m.put("model.norm.weight", List.of(8L));
        if (withLmHead) m.put("lm_head.weight", List.of(16L, 8L));
        return m;
    }

    private Checkpoint write(Map<String, List<Long>> tensors) {
        SafetensorsWriter w = new SafetensorsWriter();
        tensors.forEach((name, shape) -> {
            int n = (int) shape.stream().mapToLong(Long::longValue).reduce(1, Math::multiplyExact);
            w.addBf16(name, shape, new float[n]);
        });
        w.write(dir.resolve("model.safetensors"), null);
        return Checkpoint.open(dir);
    }

    private Checkpoint writeEdited(boolean lmHead, Consumer<Map<String, List<Long>>> edit) {
        Map<String, List<Long>> tensors = qwen2Tensors(2, lmHead);
        edit.accept(tensors);
        return write(tensors);
    }

    @Test
    void acceptsCompleteUntiedCheckpoint() {
        try (Checkpoint c = writeEdited(true, t -> { })) {
            assertThatCode(() -> c.validateAgainst(tiny(false, 2))).doesNotThrowAnyException();
        }
    }

    @Test
    void acceptsTiedCheckpointWithOrWithoutLmHead() {
        try (Checkpoint c = writeEdited(false, t -> { })) {
            assertThatCode(() -> c.validateAgainst(tiny(true, 2))).doesNotThrowAnyException();
        }
        try (Checkpoint c = writeEdited(true, t -> { })) {
            assertThatCode(() -> c.validateAgainst(tiny(true, 2))).doesNotThrowAnyException();
        }
    }

    @Test
    void toleratesRotaryInvFreqBuffers() {
        try (Checkpoint c = writeEdited(true, t -> t.put("model.layers.0.self_attn.rotary_emb.inv_freq", List.of(1L)))) {
            assertThatCode(() -> c.validateAgainst(tiny(false, 2))).doesNotThrowAnyException();
        }
    }

    @Test
    void rejectsMissingLmHeadWhenUntied() {
        try (Checkpoint c = writeEdited(false, t -> { })) {
            assertThatThrownBy(() -> c.validateAgainst(tiny(false, 2))).isInstanceOf(SafetensorsException.class)
                    .hasMessageContaining(dir.toString())
                    .hasMessageContaining("1 missing tensors: lm_head.weight");
        }
    }

    @Test
    void rejectsMissingQkvBias() {
        try (Checkpoint c = writeEdited(true, t -> {
            t.remove("model.layers.1.self_attn.k_proj.bias");
            t.remove("model.layers.0.self_attn.q_proj.bias");
        })) {
            assertThatThrownBy(() -> c.validateAgainst(tiny(false, 2)))
                    .hasMessageContaining("2 missing q/k/v biases (Qwen2 needs q/k/v biases): "
                            + "model.layers.0.self_attn.q_proj.bias, model.layers.1.self_attn.k_proj.bias");
        }
    }

    @Test
    void rejectsOProjBias() {
        try (Checkpoint c = writeEdited(true, t -> t.put("model.layers.1.self_attn.o_proj.bias", List.of(8L)))) {
            assertThatThrownBy(() -> c.validateAgainst(tiny(false, 2)))
                    .hasMessageContaining("1 unexpected o_proj biases (Qwen2's o_proj has no bias): model.layers.1.self_attn.o_proj.bias");
        }
    }

    @Test
    void rejectsWrongShape() {
        try (Checkpoint c = writeEdited(true, t -> {
            t.put("model.layers.0.mlp.down_proj.weight", List.of(12L, 8L));   // transposed
            t.put("model.norm.weight", List.of(9L));
        })) {
            assertThatThrownBy(() -> c.validateAgainst(tiny(false, 2)))
                    .hasMessageContaining("2 wrong shapes: model.layers.0.mlp.down_proj.weight is [12, 8], expected [8, 12], "
                            + "model.norm.weight is [9], expected [8]");
        }
    }

    @Test
    void rejectsTiedLmHeadOfWrongShape() {
        try (Checkpoint c = writeEdited(false, t -> t.put("lm_head.weight", List.of(15L, 8L)))) {
            assertThatThrownBy(() -> c.validateAgainst(tiny(true, 2)))
                    .hasMessageContaining("lm_head.weight is [15, 8], expected [16, 8]");
        }
    }

    @Test
    void rejectsUnexpectedTensorsNamingThem() {
        try (Checkpoint c = writeEdited(true, t -> {
            t.put("model.layers.0.mlp.extra.weight", List.of(2L));
            t.put("score.weight", List.of(2L));
        })) {
            assertThatThrownBy(() -> c.validateAgainst(tiny(false, 2)))
                    .hasMessageContaining("2 unexpected tensors: model.layers.0.mlp.extra.weight, score.weight");
        }
    }

    @Test
    void rejectsCheckpointWithMoreLayersThanConfig() {
        try (Checkpoint c = write(qwen2Tensors(3, true))) {
            assertThatThrownBy(() -> c.validateAgainst(tiny(false, 2)))
                    .hasMessageContaining("12 unexpected tensors: model.layers.2.input_layernorm.weight, ")
                    .hasMessageContaining(" and 2 more");
        }
    }

    @Test
    void capsLongListsAtTenNamesPlusCount() {
        try (Checkpoint c = write(qwen2Tensors(1, true))) {
            String message = catchMessage(() -> c.validateAgainst(tiny(false, 4)));
            // Layers 1..3 are absent: 3 q/k/v bias triples, 3 * 9 other tensors.
            assertThat(message).contains("9 missing q/k/v biases").contains("27 missing tensors: ")
                    .contains("model.layers.1.input_layernorm.weight").contains(" and 17 more");
            assertThat(message).doesNotContain("model.layers.3.mlp.down_proj.weight");
        }
    }

    @Test
    void reportsEveryKindOfProblemInOneMessage() {
        try (Checkpoint c = writeEdited(true, t -> {
            t.remove("model.layers.0.self_attn.v_proj.bias");
            t.put("model.layers.0.self_attn.o_proj.bias", List.of(8L));
            t.remove("model.layers.1.mlp.up_proj.weight");
            t.put("model.embed_tokens.weight", List.of(16L, 7L));
            t.put("stray", List.of(1L));
        })) {
            assertThat(catchMessage(() -> c.validateAgainst(tiny(false, 2))))
                    .contains("1 missing q/k/v biases (Qwen2 needs q/k/v biases): model.layers.0.self_attn.v_proj.bias; "
                            + "1 unexpected o_proj biases (Qwen2's o_proj has no bias): model.layers.0.self_attn.o_proj.bias; "
                            + "1 missing tensors: model.layers.1.mlp.up_proj.weight; "
                            + "1 wrong shapes: model.embed_tokens.weight is [16, 7], expected [16, 8]; "
                            + "1 unexpected tensors: stray");
        }
    }

    private static String catchMessage(Runnable r) {
        try {
            r.run();
        } catch (SafetensorsException ex) {
            return ex.getMessage();
        }
        throw new AssertionError("no SafetensorsException");
    }
}

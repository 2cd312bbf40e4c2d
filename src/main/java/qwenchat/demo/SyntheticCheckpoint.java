package qwenchat.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import qwenchat.weights.ModelDirectory;
import qwenchat.weights.DType;
import qwenchat.weights.SafetensorsWriter;
import tools.jackson.databind.json.JsonMapper;

/**
 * Seeded random bf16 checkpoints at real Qwen2.5 shapes, for benchmarks: the time per token
 * depends only on the shapes, so random weights measure what real ones would. Written once into a
 * cache directory (atomically) and reused.
 */
public final class SyntheticCheckpoint {

    /** Qwen2.5 architecture sizes. */
    public record Shape(String name, int hidden, int intermediate, int layers, int heads, int kvHeads, int vocab,
            boolean tied) {
        public long weightBytes() {
            long qkv = (long) hidden * (heads + 2L * kvHeads) * (hidden / heads);
            long perLayer = qkv + (long) hidden * hidden + 3L * hidden * intermediate;
            return 2 * (layers * perLayer + (tied ? 1L : 2L) * vocab * hidden);
        }
    }

    public static final Shape QWEN25_0_5B = new Shape("qwen2.5-0.5b", 896, 4864, 24, 14, 2, 151936, true);

    private SyntheticCheckpoint() {
    }

    public static Path defaultDirectory(Shape shape) {
        return Path.of(System.getProperty("user.home"), ".cache", "qwen-chat", "synthetic-" + shape.name() + "-v1");
    }

    public static ModelDirectory ensure(Shape shape, Path dir, long seed) {
        AtomicDirectory.create(dir, d -> write(shape, d, seed));
        return ModelDirectory.resolve(dir);
    }

    static void write(Shape s, Path dir, long seed) throws IOException {
        int hd = s.hidden() / s.heads();
        int qDim = s.heads() * hd;
        int kvDim = s.kvHeads() * hd;
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("architectures", List.of("Qwen2ForCausalLM"));
        config.put("qwen_chat_synthetic", "random weights at " + s.name() + " shapes, for benchmarks");
        config.put("bos_token_id", 151643);
        config.put("eos_token_id", 151645);
        config.put("hidden_act", "silu");
        config.put("hidden_size", s.hidden());
        config.put("intermediate_size", s.intermediate());
        config.put("max_position_embeddings", 32768);
        config.put("model_type", "qwen2");
        config.put("num_attention_heads", s.heads());
        config.put("num_hidden_layers", s.layers());
        config.put("num_key_value_heads", s.kvHeads());
        config.put("rms_norm_eps", 1e-6);
        config.put("rope_theta", 1000000.0);
        config.put("tie_word_embeddings", s.tied());
        config.put("torch_dtype", "bfloat16");
        config.put("vocab_size", s.vocab());
        Files.writeString(dir.resolve("config.json"),
                JsonMapper.builder().build().writerWithDefaultPrettyPrinter().writeValueAsString(config));
        Bits bits = new Bits(seed);
        SafetensorsWriter w = new SafetensorsWriter();
        w.addRaw("model.embed_tokens.weight", DType.BF16, shape(s.vocab(), s.hidden()), bits.uniform((long) s.vocab() * s.hidden(), 0.05f));
        for (int i = 0; i < s.layers(); i++) {
            String p = "model.layers." + i + ".";
            w.addRaw(p + "input_layernorm.weight", DType.BF16, shape(s.hidden()), bits.constant(s.hidden(), 1f));
            w.addRaw(p + "self_attn.q_proj.weight", DType.BF16, shape(qDim, s.hidden()), bits.uniform((long) qDim * s.hidden(), 0.04f));
            w.addRaw(p + "self_attn.q_proj.bias", DType.BF16, shape(qDim), bits.uniform(qDim, 0.5f));
            w.addRaw(p + "self_attn.k_proj.weight", DType.BF16, shape(kvDim, s.hidden()), bits.uniform((long) kvDim * s.hidden(), 0.04f));
            w.addRaw(p + "self_attn.k_proj.bias", DType.BF16, shape(kvDim), bits.uniform(kvDim, 3f));
            w.addRaw(p + "self_attn.v_proj.weight", DType.BF16, shape(kvDim, s.hidden()), bits.uniform((long) kvDim * s.hidden(), 0.04f));
            w.addRaw(p + "self_attn.v_proj.bias", DType.BF16, shape(kvDim), bits.uniform(kvDim, 0.2f));
            w.addRaw(p + "self_attn.o_proj.weight", DType.BF16, shape(s.hidden(), qDim), bits.uniform((long) s.hidden() * qDim, 0.04f));
            w.addRaw(p + "post_attention_layernorm.weight", DType.BF16, shape(s.hidden()), bits.constant(s.hidden(), 1f));
            w.addRaw(p + "mlp.gate_proj.weight", DType.BF16, shape(s.intermediate(), s.hidden()), bits.uniform((long) s.intermediate() * s.hidden(), 0.04f));
            w.addRaw(p + "mlp.up_proj.weight", DType.BF16, shape(s.intermediate(), s.hidden()), bits.uniform((long) s.intermediate() * s.hidden(), 0.04f));
            w.addRaw(p + "mlp.down_proj.weight", DType.BF16, shape(s.hidden(), s.intermediate()), bits.uniform((long) s.hidden() * s.intermediate(), 0.04f));
        }
        w.addRaw("model.norm.weight", DType.BF16, shape(s.hidden()), bits.constant(s.hidden(), 1f));
        if (!s.tied()) {
            w.addRaw("lm_head.weight", DType.BF16, shape(s.vocab(), s.hidden()), bits.uniform((long) s.vocab() * s.hidden(), 0.05f));
        }
        w.write(dir.resolve("model.safetensors"), Map.of("format", "pt"));
    }

    private static List<Long> shape(long... dims) {
        return java.util.Arrays.stream(dims).boxed().toList();
    }

    /** bf16 little-endian bytes of uniform values in [-scale, scale), from a splitmix64 stream. */
    private static final class Bits {
        private long state;

        Bits(long seed) {
            state = seed;
        }

        byte[] uniform(long n, float scale) {
            byte[] out = new byte[Math.toIntExact(n * 2)];
            for (int i = 0; i < n; i++) {
                long z = (state += 0x9E3779B97F4A7C15L);
                z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
                z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
                z ^= z >>> 31;
                float v = ((z >>> 40) * 0x1.0p-24f * 2f - 1f) * scale;
                int b = Float.floatToRawIntBits(v) >>> 16; // truncation is fine for random weights
                out[2 * i] = (byte) b;
                out[2 * i + 1] = (byte) (b >>> 8);
            }
            return out;
        }

        byte[] constant(int n, float value) {
            int b = Float.floatToRawIntBits(value) >>> 16;
            byte[] out = new byte[n * 2];
            for (int i = 0; i < n; i++) {
                out[2 * i] = (byte) b;
                out[2 * i + 1] = (byte) (b >>> 8);
            }
            return out;
        }
    }
}

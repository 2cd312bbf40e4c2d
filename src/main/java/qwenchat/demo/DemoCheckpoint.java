package qwenchat.demo;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import qwenchat.weights.ModelDirectory;
import qwenchat.weights.SafetensorsWriter;
import tools.jackson.databind.json.JsonMapper;

/**
 * A small Qwen2-shaped checkpoint with seeded random weights and the real Qwen2.5 tokenizer, so
 * the app runs end to end with no download. Its text is gibberish: everything that names it says
 * "demo weights (random)". Generated on first use into a cache directory and reused after; the
 * files are a pure function of {@link #VERSION}, so the directory name carries it.
 */
public final class DemoCheckpoint {

    public static final String VERSION = "v1";
    public static final String DIR_PROPERTY = "qwenchat.demo.dir";
    public static final String DIR_ENV = "QWEN_CHAT_DEMO_DIR";

    static final int HIDDEN = 128;
    static final int HEADS = 2;
    static final int KV_HEADS = 1;
    static final int LAYERS = 3;
    static final int INTERMEDIATE = 512;
    static final int VOCAB = 151936;
    static final long SEED = 0x5157454E32L;

    private DemoCheckpoint() {
    }

    /** The cache directory: {@code -Dqwenchat.demo.dir}, else {@code $QWEN_CHAT_DEMO_DIR}, else ~/.cache/qwen-chat. */
    public static Path defaultDirectory() {
        String dir = System.getProperty(DIR_PROPERTY);
        if (dir == null || dir.isBlank()) dir = System.getenv(DIR_ENV);
        if (dir != null && !dir.isBlank()) return Path.of(dir);
        return Path.of(System.getProperty("user.home"), ".cache", "qwen-chat", "demo-" + VERSION);
    }

    public static ModelDirectory ensure() {
        return ensure(defaultDirectory());
    }

    /**
     * Returns the demo checkpoint in {@code dir}, writing it first if absent (atomically, see
     * {@link AtomicDirectory}), so concurrent first uses by threads or processes are safe.
     */
    public static ModelDirectory ensure(Path dir) {
        AtomicDirectory.create(dir, DemoCheckpoint::write);
        return ModelDirectory.resolve(dir);
    }

    static void write(Path dir) throws IOException {
        JsonMapper json = JsonMapper.builder().build();
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("architectures", List.of("Qwen2ForCausalLM"));
        config.put(ModelDirectory.DEMO_MARKER, ModelDirectory.DEMO_LABEL);
        config.put("attention_dropout", 0.0);
        config.put("bos_token_id", 151643);
        config.put("eos_token_id", 151645);
        config.put("hidden_act", "silu");
        config.put("hidden_size", HIDDEN);
        config.put("initializer_range", 0.02);
        config.put("intermediate_size", INTERMEDIATE);
        config.put("max_position_embeddings", 32768);
        config.put("max_window_layers", LAYERS);
        config.put("model_type", "qwen2");
        config.put("num_attention_heads", HEADS);
        config.put("num_hidden_layers", LAYERS);
        config.put("num_key_value_heads", KV_HEADS);
        config.put("rms_norm_eps", 1e-6);
        config.put("rope_theta", 1000000.0);
        config.put("sliding_window", 32768);
        config.put("tie_word_embeddings", true);
        config.put("torch_dtype", "bfloat16");
        config.put("use_cache", true);
        config.put("use_sliding_window", false);
        config.put("vocab_size", VOCAB);
        Files.writeString(dir.resolve("config.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(config));
        copyResource("/qwen2.5/generation_config.json", dir.resolve("generation_config.json"), false);
        copyResource("/qwen2.5/tokenizer_config.json", dir.resolve("tokenizer_config.json"), false);
        copyResource("/qwen2.5/tokenizer.json.gz", dir.resolve("tokenizer.json"), true);
        weights().write(dir.resolve("model.safetensors"),
                Map.of("format", "pt", ModelDirectory.DEMO_MARKER, ModelDirectory.DEMO_LABEL));
    }

    /** Seeded weights shaped like a real checkpoint's: non-zero q/k/v biases (large k), norms near one. */
    static SafetensorsWriter weights() {
        SeededGaussian g = new SeededGaussian(SEED);
        SafetensorsWriter w = new SafetensorsWriter();
        int qDim = HEADS * (HIDDEN / HEADS);
        int kvDim = KV_HEADS * (HIDDEN / HEADS);
        w.addBf16("model.embed_tokens.weight", shape(VOCAB, HIDDEN), g.fill(VOCAB * HIDDEN, 0, 0.05));
        for (int i = 0; i < LAYERS; i++) {
            String p = "model.layers." + i + ".";
            w.addBf16(p + "input_layernorm.weight", shape(HIDDEN), g.fill(HIDDEN, 1, 0.1));
            w.addBf16(p + "self_attn.q_proj.weight", shape(qDim, HIDDEN), g.fill(qDim * HIDDEN, 0, 0.04));
            w.addBf16(p + "self_attn.q_proj.bias", shape(qDim), g.fill(qDim, 0, 0.5));
            w.addBf16(p + "self_attn.k_proj.weight", shape(kvDim, HIDDEN), g.fill(kvDim * HIDDEN, 0, 0.04));
            w.addBf16(p + "self_attn.k_proj.bias", shape(kvDim), g.fill(kvDim, 0, 3.0));
            w.addBf16(p + "self_attn.v_proj.weight", shape(kvDim, HIDDEN), g.fill(kvDim * HIDDEN, 0, 0.04));
            w.addBf16(p + "self_attn.v_proj.bias", shape(kvDim), g.fill(kvDim, 0, 0.2));
            w.addBf16(p + "self_attn.o_proj.weight", shape(HIDDEN, qDim), g.fill(HIDDEN * qDim, 0, 0.04));
            w.addBf16(p + "post_attention_layernorm.weight", shape(HIDDEN), g.fill(HIDDEN, 1, 0.1));
            w.addBf16(p + "mlp.gate_proj.weight", shape(INTERMEDIATE, HIDDEN), g.fill(INTERMEDIATE * HIDDEN, 0, 0.04));
            w.addBf16(p + "mlp.up_proj.weight", shape(INTERMEDIATE, HIDDEN), g.fill(INTERMEDIATE * HIDDEN, 0, 0.04));
            w.addBf16(p + "mlp.down_proj.weight", shape(HIDDEN, INTERMEDIATE), g.fill(HIDDEN * INTERMEDIATE, 0, 0.04));
        }
        w.addBf16("model.norm.weight", shape(HIDDEN), g.fill(HIDDEN, 1, 0.1));
        return w;
    }

    private static List<Long> shape(long... dims) {
        return java.util.Arrays.stream(dims).boxed().toList();
    }

    private static void copyResource(String resource, Path target, boolean gunzip) throws IOException {
        try (InputStream raw = DemoCheckpoint.class.getResourceAsStream(resource)) {
            if (raw == null) throw new IOException("resource " + resource + " is missing from the classpath");
            try (InputStream in = gunzip ? new GZIPInputStream(raw, 1 << 16) : raw) {
                Files.copy(in, target);
            }
        }
    }
}

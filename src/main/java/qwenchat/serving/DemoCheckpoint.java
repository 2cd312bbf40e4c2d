package qwenchat.serving;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import qwenchat.weights.SafetensorsWriter;

/**
 * A tiny Qwen2 checkpoint with seeded random weights and the real Qwen2.5 tokenizer, so the server
 * runs end to end with no download. Its text is gibberish; it exists to exercise serving.
 * Generated once into a directory (atomically, so two starting servers cannot see half a model).
 */
public final class DemoCheckpoint {

    public static final String DISPLAY_NAME = "demo weights (random)";

    /** Bumped whenever the generated files change, so a stale directory is regenerated. */
    static final String VERSION = "2";

    // Qwen2.5's padded vocabulary: the bundled tokenizer's ids all fit, like the real checkpoints.
    static final int VOCAB = 151_936;
    static final int TOKENIZER_IDS = 151_665;
    static final int HIDDEN = 64;
    static final int INTERMEDIATE = 128;
    static final int LAYERS = 2;
    static final int HEADS = 4;
    static final int KV_HEADS = 2;
    static final int CONTEXT = 4096;
    private static final long SEED = 0x5157454eL;

    private DemoCheckpoint() {
    }

    /** Returns {@code dir} holding the demo model, generating it when missing or stale. */
    public static synchronized Path ensure(Path dir) {
        Path marker = dir.resolve("demo-version");
        try {
            if (Files.isRegularFile(marker) && Files.readString(marker).strip().equals(VERSION)) return dir;
            Path parent = dir.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            Path tmp = Files.createTempDirectory(parent, dir.getFileName() + ".tmp");
            write(tmp);
            deleteTree(dir);
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, dir);
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot generate the demo checkpoint in " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void write(Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), """
                {
                  "architectures": ["Qwen2ForCausalLM"],
                  "model_type": "qwen2",
                  "hidden_size": %d,
                  "intermediate_size": %d,
                  "num_hidden_layers": %d,
                  "num_attention_heads": %d,
                  "num_key_value_heads": %d,
                  "vocab_size": %d,
                  "max_position_embeddings": %d,
                  "rope_theta": 1000000.0,
                  "rms_norm_eps": 1e-06,
                  "hidden_act": "silu",
                  "tie_word_embeddings": true,
                  "use_sliding_window": false,
                  "torch_dtype": "bfloat16"
                }
                """.formatted(HIDDEN, INTERMEDIATE, LAYERS, HEADS, KV_HEADS, VOCAB, CONTEXT));
        copyResource("/qwen2.5/generation_config.json", dir.resolve("generation_config.json"), false);
        copyResource("/qwen2.5/tokenizer_config.json", dir.resolve("tokenizer_config.json"), false);
        copyResource("/qwen2.5/tokenizer.json.gz", dir.resolve("tokenizer.json"), true);
        weights().write(dir.resolve("model.safetensors"), Map.of("format", "pt", "qwen-chat", "demo"));
        Files.writeString(dir.resolve("demo-version"), VERSION);
    }

    private static SafetensorsWriter weights() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        int headDim = HIDDEN / HEADS;
        int q = HEADS * headDim;
        int kv = KV_HEADS * headDim;
        SafetensorsWriter w = new SafetensorsWriter();
        // A wide embedding spread keeps the next-token distribution peaked enough that greedy text varies.
        float[] embed = normal(rnd, VOCAB * HIDDEN, 0.5);
        // Rows past the tokenizer's ids are padding, as in real checkpoints: zero, so they are rarely picked.
        java.util.Arrays.fill(embed, TOKENIZER_IDS * HIDDEN, VOCAB * HIDDEN, 0f);
        w.addBf16("model.embed_tokens.weight", shape(VOCAB, HIDDEN), embed);
        for (int i = 0; i < LAYERS; i++) {
            String p = "model.layers." + i + ".";
            w.addBf16(p + "input_layernorm.weight", shape(HIDDEN), ones(HIDDEN));
            w.addBf16(p + "self_attn.q_proj.weight", shape(q, HIDDEN), normal(rnd, q * HIDDEN, 0.2));
            w.addBf16(p + "self_attn.q_proj.bias", shape(q), normal(rnd, q, 0.1));
            w.addBf16(p + "self_attn.k_proj.weight", shape(kv, HIDDEN), normal(rnd, kv * HIDDEN, 0.2));
            w.addBf16(p + "self_attn.k_proj.bias", shape(kv), normal(rnd, kv, 0.1));
            w.addBf16(p + "self_attn.v_proj.weight", shape(kv, HIDDEN), normal(rnd, kv * HIDDEN, 0.2));
            w.addBf16(p + "self_attn.v_proj.bias", shape(kv), normal(rnd, kv, 0.1));
            w.addBf16(p + "self_attn.o_proj.weight", shape(HIDDEN, q), normal(rnd, HIDDEN * q, 0.2));
            w.addBf16(p + "post_attention_layernorm.weight", shape(HIDDEN), ones(HIDDEN));
            w.addBf16(p + "mlp.gate_proj.weight", shape(INTERMEDIATE, HIDDEN), normal(rnd, INTERMEDIATE * HIDDEN, 0.2));
            w.addBf16(p + "mlp.up_proj.weight", shape(INTERMEDIATE, HIDDEN), normal(rnd, INTERMEDIATE * HIDDEN, 0.2));
            w.addBf16(p + "mlp.down_proj.weight", shape(HIDDEN, INTERMEDIATE), normal(rnd, HIDDEN * INTERMEDIATE, 0.2));
        }
        w.addBf16("model.norm.weight", shape(HIDDEN), ones(HIDDEN));
        return w;
    }

    private static List<Long> shape(long... dims) {
        return java.util.Arrays.stream(dims).boxed().toList();
    }

    private static float[] ones(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }

    private static float[] normal(SplittableRandom rnd, int n, double std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            // Box-Muller; one value per pair is plenty for random weights.
            double u = 1.0 - rnd.nextDouble();
            double v = rnd.nextDouble();
            a[i] = (float) (std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
        }
        return a;
    }

    private static void copyResource(String resource, Path target, boolean gunzip) throws IOException {
        try (InputStream raw = DemoCheckpoint.class.getResourceAsStream(resource)) {
            if (raw == null) throw new IOException("classpath resource " + resource + " is missing");
            try (InputStream in = gunzip ? new GZIPInputStream(raw, 1 << 16) : raw) {
                Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }
}

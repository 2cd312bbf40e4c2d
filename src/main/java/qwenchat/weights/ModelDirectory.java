package qwenchat.weights;

import java.io.IOException;
import qwenchat.model.ModelConfigParser;
import qwenchat.model.ModelConfigException;
import qwenchat.model.ModelConfig;
import qwenchat.model.GenerationConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import qwenchat.tokenizer.QwenTokenizer;
import qwenchat.weights.Checkpoint;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A model directory as Hugging Face lays it out: config.json (required), generation_config.json
 * (optional: greedy with config.json's eos ids otherwise), tokenizer.json, and model.safetensors or
 * an index with shards.
 *
 * @param demo true for qwen-chat's generated demo checkpoint (random weights), marked in its config.json
 */
public record ModelDirectory(Path dir, ModelConfig config, GenerationConfig generation, boolean demo) {

    /** The config.json field that marks the demo checkpoint; its value is what the UI shows. */
    public static final String DEMO_MARKER = "qwen_chat_demo";
    public static final String DEMO_LABEL = "demo weights (random)";

    public static ModelDirectory resolve(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new ModelConfigException(dir + ": not a directory (expected a model directory with config.json)");
        }
        Path configFile = dir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new ModelConfigException(configFile + ": missing; a model directory needs config.json");
        }
        ModelConfig config = ModelConfigParser.parseConfig(configFile);
        Path genFile = dir.resolve("generation_config.json");
        GenerationConfig generation = Files.isRegularFile(genFile)
                ? ModelConfigParser.parseGenerationConfig(genFile)
                : GenerationConfig.greedy(eosFromConfig(configFile));
        return new ModelDirectory(dir, config, generation, isDemo(configFile));
    }

    public Checkpoint openCheckpoint() {
        return Checkpoint.open(dir);
    }

    /** The directory's tokenizer.json, or the bundled Qwen2.5 tokenizer (shared by the whole family) when it has none. */
    public QwenTokenizer tokenizer() {
        return Files.isRegularFile(dir.resolve("tokenizer.json")) ? QwenTokenizer.load(dir) : QwenTokenizer.bundled();
    }

    public String displayName() {
        if (demo) return "qwen-chat " + DEMO_LABEL;
        Path name = dir.toAbsolutePath().normalize().getFileName();
        return name == null ? dir.toString() : name.toString();
    }

    private static List<Integer> eosFromConfig(Path configFile) {
        try {
            return ModelConfigParser.parseGenerationConfig(configFile).eosTokenIds();
        } catch (ModelConfigException e) {
            return List.of(); // no eos id anywhere: generation ends on limits and stop strings only
        }
    }

    private static boolean isDemo(Path configFile) {
        try {
            JsonNode root = JsonMapper.builder().build().readTree(Files.readString(configFile));
            return root.has(DEMO_MARKER);
        } catch (IOException e) {
            throw new ModelConfigException(configFile + ": cannot read: " + e.getMessage(), e);
        }
    }
}

package qwenchat.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ModelConfigParserTest {

    private static final Path BUNDLED = Path.of("src/main/resources/qwen2.5");

    /** A Qwen2.5 config.json as Hugging Face ships it, with the sizes filled in. */
    private static String qwenConfig(int hidden, int layers, int heads, int kvHeads, int inter, boolean tied, int vocab) {
        return """
                {
                  "architectures": ["Qwen2ForCausalLM"],
                  "attention_dropout": 0.0,
                  "bos_token_id": 151643,
                  "eos_token_id": 151645,
                  "hidden_act": "silu",
                  "hidden_size": %d,
                  "initializer_range": 0.02,
                  "intermediate_size": %d,
                  "max_position_embeddings": 32768,
                  "max_window_layers": %d,
                  "model_type": "qwen2",
                  "num_attention_heads": %d,
                  "num_hidden_layers": %d,
                  "num_key_value_heads": %d,
                  "rms_norm_eps": 1e-06,
                  "rope_theta": 1000000.0,
                  "sliding_window": 32768,
                  "tie_word_embeddings": %b,
                  "torch_dtype": "bfloat16",
                  "transformers_version": "4.43.1",
                  "use_cache": true,
                  "use_sliding_window": false,
                  "vocab_size": %d
                }
                """.formatted(hidden, inter, layers, heads, layers, kvHeads, tied, vocab);
    }

    private static String sevenB() {
        return qwenConfig(3584, 28, 28, 4, 18944, false, 152064);
    }

    private static String replace(String json, String field, String value) {
        String edited = json.replaceFirst("\"" + field + "\": [^,\\n]+", "\"" + field + "\": " + value);
        assertThat(edited).as("edit of " + field).isNotEqualTo(json);
        return edited;
    }

    private static String remove(String json, String field) {
        String edited = json.replaceFirst("\\n\\s*\"" + field + "\": [^,\\n]+,", "");
        assertThat(edited).as("removal of " + field).isNotEqualTo(json);
        return edited;
    }

    @Test
    void parsesBundled7BConfigField() {
        ModelConfig c = ModelConfigParser.parseConfig(BUNDLED.resolve("config.json"));
        assertThat(c.modelType()).isEqualTo("qwen2");
        assertThat(c.hiddenSize()).isEqualTo(3584);
        assertThat(c.intermediateSize()).isEqualTo(18944);
        assertThat(c.numHiddenLayers()).isEqualTo(28);
        assertThat(c.numAttentionHeads()).isEqualTo(28);
        assertThat(c.numKeyValueHeads()).isEqualTo(4);
        assertThat(c.headDim()).isEqualTo(128);
        assertThat(c.vocabSize()).isEqualTo(152064);
        assertThat(c.maxPositionEmbeddings()).isEqualTo(32768);
        assertThat(c.ropeTheta()).isEqualTo(1_000_000.0);
        assertThat(c.rmsNormEps()).isEqualTo(1e-6);
        assertThat(c.tieWordEmbeddings()).isFalse();
        assertThat(c.ropeScaling()).isNull();
        assertThat(c.torchDtype()).isEqualTo("bfloat16");
        assertThat(c.groupSize()).isEqualTo(7);
        assertThat(c.qDim()).isEqualTo(3584);
        assertThat(c.kvDim()).isEqualTo(512);
        assertThat(c.qkvDim()).isEqualTo(4608);
        assertThat(c.contextLength()).isEqualTo(32768);
    }

    @ParameterizedTest(name = "Qwen2.5-{0}")
    @CsvSource({
            // size, hidden, layers, heads, kv, inter, tied, vocab, headDim, group, published parameters
            "0.5B, 896,  24, 14, 2, 4864,  true,  151936, 64,  7, 0.49e9",
            "1.5B, 1536, 28, 12, 2, 8960,  true,  151936, 128, 6, 1.54e9",
            "3B,   2048, 36, 16, 2, 11008, true,  151936, 128, 8, 3.09e9",
            "7B,   3584, 28, 28, 4, 18944, false, 152064, 128, 7, 7.62e9",
            "14B,  5120, 48, 40, 8, 13824, false, 152064, 128, 5, 14.7e9",
            "32B,  5120, 64, 40, 8, 27648, false, 152064, 128, 5, 32.8e9",
            "72B,  8192, 80, 64, 8, 29568, false, 152064, 128, 8, 72.7e9",
    })
    void parsesEveryQwen25Size(String size, int hidden, int layers, int heads, int kv, int inter, boolean tied,
                               int vocab, int headDim, int group, double parameters) {
        ModelConfig c = ModelConfigParser.parseConfig(qwenConfig(hidden, layers, heads, kv, inter, tied, vocab), size);
        assertThat(c.hiddenSize()).isEqualTo(hidden);
        assertThat(c.numHiddenLayers()).isEqualTo(layers);
        assertThat(c.numAttentionHeads()).isEqualTo(heads);
        assertThat(c.numKeyValueHeads()).isEqualTo(kv);
        assertThat(c.intermediateSize()).isEqualTo(inter);
        assertThat(c.tieWordEmbeddings()).isEqualTo(tied);
        assertThat(c.vocabSize()).isEqualTo(vocab);
        assertThat(c.maxPositionEmbeddings()).isEqualTo(32768);
        assertThat(c.ropeTheta()).isEqualTo(1e6);
        assertThat(c.rmsNormEps()).isEqualTo(1e-6);
        assertThat(c.headDim()).isEqualTo(headDim);
        assertThat(c.groupSize()).isEqualTo(group);
        assertThat((double) c.parameterCount()).isCloseTo(parameters, within(parameters * 0.01));
    }

    @Test
    void yarnRopeScalingExtendsContextTo128K() {
        String json = sevenB().replace("\"rope_theta\"",
                "\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 32768},\n  \"rope_theta\"");
        ModelConfig c = ModelConfigParser.parseConfig(json, "yarn");
        assertThat(c.ropeScaling()).isNotNull();
        assertThat(c.ropeScaling().isYarn()).isTrue();
        assertThat(c.ropeScaling().factor()).isEqualTo(4.0);
        assertThat(c.ropeScaling().originalMaxPositionEmbeddings()).isEqualTo(32768);
        assertThat(c.ropeScaling().effectiveAttentionFactor()).isCloseTo(0.1 * Math.log(4) + 1, within(1e-12));
        assertThat(c.contextLength()).isEqualTo(131072);
    }

    @Test
    void acceptsRopeTypeSpellingOfYarn() {
        String json = replace(sevenB(), "rope_theta",
                "1000000.0, \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 2.0}");
        assertThat(ModelConfigParser.parseConfig(json, "yarn").contextLength()).isEqualTo(65536);
    }

    @Test
    void parsesBundledGenerationConfig() {
        GenerationConfig g = ModelConfigParser.parseGenerationConfig(BUNDLED.resolve("generation_config.json"));
        assertThat(g.eosTokenIds()).containsExactly(151645, 151643);
        assertThat(g.bosTokenId()).isEqualTo(151643);
        assertThat(g.padTokenId()).isEqualTo(151643);
        assertThat(g.doSample()).isTrue();
        assertThat(g.temperature()).isEqualTo(0.7);
        assertThat(g.topP()).isEqualTo(0.8);
        assertThat(g.topK()).isEqualTo(20);
        assertThat(g.repetitionPenalty()).isEqualTo(1.05);
    }

    @Test
    void generationConfigWithSingleEosAndDefaults() {
        GenerationConfig g = ModelConfigParser.parseGenerationConfig("{\"eos_token_id\": 151643}", "gen");
        assertThat(g.eosTokenIds()).containsExactly(151643);
        assertThat(g.doSample()).isFalse();
        assertThat(g.temperature()).isEqualTo(1.0);
        assertThat(g.topK()).isZero();
        assertThat(g.bosTokenId()).isNull();
    }

    @Test
    void rejectsUnknownModelType() {
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(replace(sevenB(), "model_type", "\"llama\""), "cfg.json"))
                .isInstanceOf(ModelConfigException.class)
                .hasMessageContaining("cfg.json: field 'model_type' is 'llama', but only 'qwen2'");
    }

    @Test
    void rejectsMissingField() {
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(remove(sevenB(), "intermediate_size"), "cfg.json"))
                .hasMessage("cfg.json: field 'intermediate_size' is missing");
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(remove(sevenB(), "hidden_size"), "cfg.json"))
                .hasMessage("cfg.json: field 'hidden_size' is missing");
    }

    @Test
    void rejectsHeadsNotDividingHidden() {
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(replace(sevenB(), "num_attention_heads", "27"), "cfg.json"))
                .hasMessageContaining("cfg.json: field 'hidden_size' (3584) is not divisible by 'num_attention_heads' (27)");
    }

    @Test
    void rejectsKvHeadsNotDividingHeads() {
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(replace(sevenB(), "num_key_value_heads", "3"), "cfg.json"))
                .hasMessageContaining("cfg.json: field 'num_attention_heads' (28) is not a multiple of 'num_key_value_heads' (3)");
    }

    @Test
    void rejectsWrongTypes() {
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(replace(sevenB(), "hidden_size", "\"3584\""), "cfg.json"))
                .hasMessageContaining("cfg.json: field 'hidden_size' must be a non-negative 32-bit integer, got \"3584\"");
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(replace(sevenB(), "num_hidden_layers", "28.5"), "cfg.json"))
                .hasMessageContaining("field 'num_hidden_layers' must be a non-negative 32-bit integer, got 28.5");
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(replace(sevenB(), "vocab_size", "4294967296"), "cfg.json"))
                .hasMessageContaining("field 'vocab_size' must be a non-negative 32-bit integer, got 4294967296");
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(replace(sevenB(), "tie_word_embeddings", "\"false\""), "cfg.json"))
                .hasMessageContaining("field 'tie_word_embeddings' must be true or false");
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(replace(sevenB(), "rms_norm_eps", "-1e-6"), "cfg.json"))
                .hasMessageContaining("field 'rms_norm_eps' must be a positive number, got -1.0E-6");
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(replace(sevenB(), "model_type", "2"), "cfg.json"))
                .hasMessageContaining("field 'model_type' must be a string, got 2");
    }

    @Test
    void rejectsZeroLayers() {
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(replace(sevenB(), "num_hidden_layers", "0"), "cfg.json"))
                .hasMessageContaining("field 'num_hidden_layers' must be positive, got 0");
    }

    @Test
    void rejectsUnsupportedRopeScaling() {
        String json = replace(sevenB(), "rope_theta", "1000000.0, \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}");
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(json, "cfg.json"))
                .hasMessageContaining("field 'rope_scaling.type' is 'linear'; only 'yarn' is supported");
    }

    @Test
    void rejectsYarnWithoutFactor() {
        String json = replace(sevenB(), "rope_theta", "1000000.0, \"rope_scaling\": {\"type\": \"yarn\"}");
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(json, "cfg.json"))
                .hasMessage("cfg.json: field 'rope_scaling.factor' is missing");
    }

    @Test
    void rejectsInvalidJsonNamingFile() {
        assertThatThrownBy(() -> ModelConfigParser.parseConfig("{\"model_type\": ", "cfg.json"))
                .hasMessageStartingWith("cfg.json: not valid JSON");
        assertThatThrownBy(() -> ModelConfigParser.parseConfig("[]", "cfg.json"))
                .hasMessage("cfg.json: expected a JSON object at the top level");
    }

    @Test
    void rejectsUnreadableFileNamingIt() {
        Path missing = Path.of("does-not-exist/config.json");
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(missing))
                .hasMessageStartingWith(missing + ": cannot read");
    }

    @Test
    void rejectsGenerationConfigWithoutEos() {
        assertThatThrownBy(() -> ModelConfigParser.parseGenerationConfig("{\"temperature\": 0.7}", "gen.json"))
                .hasMessage("gen.json: field 'eos_token_id' is missing");
    }

    @Test
    void rejectsGenerationConfigWithBadEosEntry() {
        assertThatThrownBy(() -> ModelConfigParser.parseGenerationConfig("{\"eos_token_id\": [151645, \"x\"]}", "gen.json"))
                .hasMessageContaining("gen.json: field 'eos_token_id' holds a non-id value \"x\"");
        assertThatThrownBy(() -> ModelConfigParser.parseGenerationConfig("{\"eos_token_id\": [4294967296]}", "gen.json"))
                .hasMessageContaining("gen.json: field 'eos_token_id' holds a non-id value 4294967296");
        assertThatThrownBy(() -> ModelConfigParser.parseGenerationConfig("{\"eos_token_id\": []}", "gen.json"))
                .hasMessageContaining("gen.json: field 'eos_token_id' is an empty list");
    }

    @Test
    void treatsNullOptionalFieldsAsAbsent() {
        String json = replace(replace(replace(sevenB(), "num_key_value_heads", "null"), "rope_theta", "null"),
                "tie_word_embeddings", "null");
        ModelConfig c = ModelConfigParser.parseConfig(json, "cfg.json");
        assertThat(c.numKeyValueHeads()).isEqualTo(28);     // transformers: None means plain multi-head attention
        assertThat(c.ropeTheta()).isEqualTo(10000.0);
        assertThat(c.tieWordEmbeddings()).isFalse();
    }

    @Test
    void rejectsSlidingWindowAttention() {
        assertThatThrownBy(() -> ModelConfigParser.parseConfig(replace(sevenB(), "use_sliding_window", "true"), "cfg.json"))
                .hasMessageContaining("cfg.json: field 'use_sliding_window' is true; sliding-window attention is not supported");
    }
}

package qwenchat.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** Reads config.json and generation_config.json with errors that name the file and the field. */
public final class ModelConfigParser {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private ModelConfigParser() {
    }

    public static ModelConfig parseConfig(Path file) {
        return parseConfig(readTree(file), file.toString());
    }

    public static ModelConfig parseConfig(String json, String source) {
        return parseConfig(readTree(json, source), source);
    }

    static ModelConfig parseConfig(JsonNode root, String source) {
        Fields f = new Fields(root, source);
        String modelType = f.string("model_type");
        if (!"qwen2".equals(modelType)) {
            throw new ModelConfigException(source + ": field 'model_type' is '" + modelType
                    + "', but only 'qwen2' (the Qwen2 / Qwen2.5 family) is supported");
        }
        int hidden = f.positiveInt("hidden_size");
        int heads = f.positiveInt("num_attention_heads");
        // transformers reads an absent or null num_key_value_heads as plain multi-head attention.
        int kvHeads = f.has("num_key_value_heads") ? f.positiveInt("num_key_value_heads") : heads;
        if (hidden % heads != 0) {
            throw new ModelConfigException(source + ": field 'hidden_size' (" + hidden
                    + ") is not divisible by 'num_attention_heads' (" + heads + ")");
        }
        if (heads % kvHeads != 0) {
            throw new ModelConfigException(source + ": field 'num_attention_heads' (" + heads
                    + ") is not a multiple of 'num_key_value_heads' (" + kvHeads + ")");
        }
        int headDim = hidden / heads;
        if (f.has("head_dim") && f.positiveInt("head_dim") != headDim) {
            throw new ModelConfigException(source + ": field 'head_dim' (" + f.positiveInt("head_dim")
                    + ") differs from hidden_size/num_attention_heads (" + headDim + "); Qwen2 derives it");
        }
        if (headDim % 2 != 0) {
            throw new ModelConfigException(source + ": head dimension " + headDim
                    + " (hidden_size/num_attention_heads) must be even for rotary embeddings");
        }
        String act = f.has("hidden_act") ? f.string("hidden_act") : "silu";
        if (!"silu".equals(act)) {
            throw new ModelConfigException(source + ": field 'hidden_act' is '" + act + "'; Qwen2 uses 'silu'");
        }
        // Qwen2.5 ships use_sliding_window false; with it on, upper layers attend to a window only,
        // which neither engine implements, so generating would silently go wrong past the window.
        if (f.has("use_sliding_window") && f.bool("use_sliding_window")) {
            throw new ModelConfigException(source + ": field 'use_sliding_window' is true; sliding-window attention is not supported");
        }
        int maxPos = f.positiveInt("max_position_embeddings");
        RopeScaling scaling = parseRopeScaling(root.get("rope_scaling"), source, maxPos);
        return new ModelConfig(
                modelType,
                hidden,
                f.positiveInt("intermediate_size"),
                f.positiveInt("num_hidden_layers"),
                heads,
                kvHeads,
                headDim,
                f.positiveInt("vocab_size"),
                maxPos,
                f.has("rope_theta") ? f.positiveDouble("rope_theta") : 10000.0,
                f.positiveDouble("rms_norm_eps"),
                f.has("tie_word_embeddings") && f.bool("tie_word_embeddings"),
                scaling,
                f.has("torch_dtype") ? f.string("torch_dtype") : (f.has("dtype") ? f.string("dtype") : "bfloat16"));
    }

    private static RopeScaling parseRopeScaling(JsonNode node, String source, int maxPos) {
        if (node == null || node.isNull()) return null;
        if (!node.isObject()) {
            throw new ModelConfigException(source + ": field 'rope_scaling' must be an object or null");
        }
        Fields f = new Fields(node, source, "rope_scaling.");
        String type = f.has("type") ? f.string("type") : (f.has("rope_type") ? f.string("rope_type") : null);
        if (type == null) {
            throw new ModelConfigException(source + ": field 'rope_scaling.type' is missing");
        }
        if ("default".equals(type)) return null;
        if (!"yarn".equals(type)) {
            throw new ModelConfigException(source + ": field 'rope_scaling.type' is '" + type
                    + "'; only 'yarn' is supported for Qwen2.5");
        }
        double factor = f.positiveDouble("factor");
        int original = f.has("original_max_position_embeddings")
                ? f.positiveInt("original_max_position_embeddings") : maxPos;
        Double attention = f.has("attention_factor") ? f.positiveDouble("attention_factor") : null;
        double betaFast = f.has("beta_fast") ? f.positiveDouble("beta_fast") : 32.0;
        double betaSlow = f.has("beta_slow") ? f.positiveDouble("beta_slow") : 1.0;
        return new RopeScaling(type, factor, original, attention, betaFast, betaSlow);
    }

    public static GenerationConfig parseGenerationConfig(Path file) {
        return parseGenerationConfig(readTree(file), file.toString());
    }

    public static GenerationConfig parseGenerationConfig(String json, String source) {
        return parseGenerationConfig(readTree(json, source), source);
    }

    static GenerationConfig parseGenerationConfig(JsonNode root, String source) {
        Fields f = new Fields(root, source);
        List<Integer> eos = new ArrayList<>();
        JsonNode e = root.get("eos_token_id");
        if (e == null || e.isNull()) {
            throw new ModelConfigException(source + ": field 'eos_token_id' is missing");
        } else if (e.isArray()) {
            for (JsonNode id : e) {
                if (!id.isIntegralNumber() || !id.canConvertToInt() || id.asInt() < 0) {
                    throw new ModelConfigException(source + ": field 'eos_token_id' holds a non-id value " + id);
                }
                eos.add(id.asInt());
            }
            if (eos.isEmpty()) {
                throw new ModelConfigException(source + ": field 'eos_token_id' is an empty list; generation needs a stop id");
            }
        } else {
            eos.add(f.nonNegativeInt("eos_token_id"));
        }
        return new GenerationConfig(
                eos,
                f.has("bos_token_id") ? f.nonNegativeInt("bos_token_id") : null,
                f.has("pad_token_id") ? f.nonNegativeInt("pad_token_id") : null,
                f.has("do_sample") && f.bool("do_sample"),
                f.has("temperature") ? f.positiveDouble("temperature") : 1.0,
                f.has("top_p") ? f.positiveDouble("top_p") : 1.0,
                f.has("top_k") ? f.nonNegativeInt("top_k") : 0,
                f.has("repetition_penalty") ? f.positiveDouble("repetition_penalty") : 1.0);
    }

    private static JsonNode readTree(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException ex) {
            throw new ModelConfigException(file + ": cannot read: " + ex.getMessage(), ex);
        }
        return readTree(text, file.toString());
    }

    private static JsonNode readTree(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JacksonException ex) {
            throw new ModelConfigException(source + ": not valid JSON: " + ex.getOriginalMessage(), ex);
        }
        if (root == null || !root.isObject()) {
            throw new ModelConfigException(source + ": expected a JSON object at the top level");
        }
        return root;
    }

    /** Typed field access whose errors name the file and the (dotted) field. */
    private record Fields(JsonNode node, String source, String prefix) {
        Fields(JsonNode node, String source) {
            this(node, source, "");
        }

        /** Present and not null: JSON null means "use the default", as in transformers. */
        boolean has(String name) {
            JsonNode v = node.get(name);
            return v != null && !v.isNull();
        }

        private JsonNode require(String name) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) {
                throw new ModelConfigException(source + ": field '" + prefix + name + "' is missing");
            }
            return v;
        }

        String string(String name) {
            JsonNode v = require(name);
            if (!v.isString()) {
                throw new ModelConfigException(source + ": field '" + prefix + name + "' must be a string, got " + v);
            }
            return v.asString();
        }

        boolean bool(String name) {
            JsonNode v = require(name);
            if (!v.isBoolean()) {
                throw new ModelConfigException(source + ": field '" + prefix + name + "' must be true or false, got " + v);
            }
            return v.asBoolean();
        }

        int positiveInt(String name) {
            int v = nonNegativeInt(name);
            if (v == 0) {
                throw new ModelConfigException(source + ": field '" + prefix + name + "' must be positive, got 0");
            }
            return v;
        }

        int nonNegativeInt(String name) {
            JsonNode v = require(name);
            if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0) {
                throw new ModelConfigException(source + ": field '" + prefix + name
                        + "' must be a non-negative 32-bit integer, got " + v);
            }
            return v.asInt();
        }

        double positiveDouble(String name) {
            JsonNode v = require(name);
            if (!v.isNumber() || !(v.asDouble() > 0) || Double.isInfinite(v.asDouble())) {
                throw new ModelConfigException(source + ": field '" + prefix + name + "' must be a positive number, got " + v);
            }
            return v.asDouble();
        }
    }
}

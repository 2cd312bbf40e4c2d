package qwenchat.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.TokenStreamFactory;
import tools.jackson.core.json.JsonFactory;
import tools.jackson.core.JsonToken;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Reads a Hugging Face tokenizer.json and builds the pipeline it describes. Only the components a
 * Qwen2-style byte-level BPE uses are accepted; anything else is refused with the field named,
 * rather than tokenizing differently from the reference library without saying so.
 */
final class TokenizerJsonReader {

    // Canonicalizing 150k distinct vocabulary keys costs more than it could ever save.
    private static final JsonMapper JSON = JsonMapper.builder(JsonFactory.builder()
            .disable(TokenStreamFactory.Feature.CANONICALIZE_PROPERTY_NAMES).build()).build();

    private final String source;

    // The small sections as trees; the model's vocab and merges (nearly all of the 5 MB) streamed into
    // plain collections, since a full tree takes seconds to build in a cold JVM.
    private final Map<String, JsonNode> sections = new HashMap<>();
    private final Map<String, JsonNode> modelFields = new HashMap<>();
    private Map<String, Integer> vocab;
    private List<String[]> merges;

    private TokenizerJsonReader(String source) {
        this.source = source;
    }

    static QwenTokenizer read(InputStream in, String source) {
        TokenizerJsonReader reader = new TokenizerJsonReader(source);
        try (in; JsonParser p = JSON.createParser(in)) {
            reader.parse(p);
        } catch (JacksonException e) {
            throw new TokenizerException(source + ": not readable as JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new TokenizerException(source + ": cannot read: " + e.getMessage(), e);
        }
        return reader.build();
    }

    private void parse(JsonParser p) {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            throw new TokenizerException(source + ": expected a JSON object at the top level");
        }
        while (p.nextToken() == JsonToken.PROPERTY_NAME) {
            String name = p.currentName();
            p.nextToken();
            if (name.equals("model") && p.currentToken() == JsonToken.START_OBJECT) {
                parseModel(p);
            } else {
                sections.put(name, p.<JsonNode>readValueAsTree());
            }
        }
    }

    private void parseModel(JsonParser p) {
        while (p.nextToken() == JsonToken.PROPERTY_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            if (name.equals("vocab") && value == JsonToken.START_OBJECT) {
                vocab = new HashMap<>(1 << 18);
                while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                    String token = p.currentName();
                    if (p.nextToken() != JsonToken.VALUE_NUMBER_INT || p.getIntValue() < 0) {
                        fail("model.vocab['" + token + "']", "must be a non-negative integer id");
                    }
                    vocab.put(token, p.getIntValue());
                }
            } else if (name.equals("merges") && value == JsonToken.START_ARRAY) {
                merges = new ArrayList<>(1 << 18);
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    merges.add(mergePair(p, merges.size()));
                }
            } else {
                modelFields.put(name, p.<JsonNode>readValueAsTree());
            }
        }
    }

    /** One merge, either {@code ["left", "right"]} or the older {@code "left right"}. */
    private String[] mergePair(JsonParser p, int rank) {
        String field = "model.merges[" + rank + "]";
        if (p.currentToken() == JsonToken.START_ARRAY) {
            String left = p.nextToken() == JsonToken.VALUE_STRING ? p.getString() : null;
            String right = left != null && p.nextToken() == JsonToken.VALUE_STRING ? p.getString() : null;
            if (right != null && p.nextToken() == JsonToken.END_ARRAY) return new String[] {left, right};
        } else if (p.currentToken() == JsonToken.VALUE_STRING) {
            String[] parts = p.getString().split(" ", -1);
            if (parts.length == 2) return parts;
        }
        throw fail(field, "must be [\"left\", \"right\"] or \"left right\"");
    }

    private QwenTokenizer build() {
        boolean nfc = readNormalizer(sections.get("normalizer"));
        PreTokenizer preTokenizer = readPreTokenizer(sections.get("pre_tokenizer"));
        checkDecoder(sections.get("decoder"));
        if (vocab == null && modelFields.isEmpty()) fail("model", "must be an object");
        String type = string(modelFields.get("type"), "model.type");
        if (!"BPE".equals(type)) fail("model.type", "is '" + type + "', only 'BPE' is supported");
        if (!isNullOrAbsent(modelFields.get("dropout"))) fail("model.dropout", "must be null: BPE dropout makes encoding random");
        requireEmptyOrNull("continuing_subword_prefix");
        requireEmptyOrNull("end_of_word_suffix");
        if (flag(modelFields.get("byte_fallback"))) fail("model.byte_fallback", "must be false for byte-level BPE");
        boolean ignoreMerges = flag(modelFields.get("ignore_merges"));
        if (vocab == null) fail("model.vocab", "must be an object");
        if (merges == null) fail("model.merges", "must be an array");

        int[] byteToId = new int[256];
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.valueOf(ByteLevel.charOf(b)));
            if (id == null) {
                fail("model.vocab", "has no entry for byte 0x" + Integer.toHexString(b) + " ('" + ByteLevel.charOf(b)
                        + "'); byte-level BPE needs all 256");
            }
            byteToId[b] = id;
        }
        PairRanks pairRanks = new PairRanks(merges.size());
        int[] mergeResult = new int[merges.size()]; // [merges] id each merge produces
        for (int rank = 0; rank < merges.size(); rank++) {
            String[] pair = merges.get(rank);
            Integer left = vocab.get(pair[0]);
            Integer right = vocab.get(pair[1]);
            Integer merged = vocab.get(pair[0] + pair[1]);
            if (left == null || right == null || merged == null) {
                String missing = left == null ? pair[0] : right == null ? pair[1] : pair[0] + pair[1];
                fail("model.merges[" + rank + "]", "refers to '" + missing + "', which is not in model.vocab");
            }
            pairRanks.put(left, right, rank);
            mergeResult[rank] = merged;
        }

        List<AddedToken> added = readAddedTokens(sections.get("added_tokens"));
        int size = vocab.size();
        for (Integer id : vocab.values()) size = Math.max(size, id + 1);
        for (AddedToken t : added) size = Math.max(size, t.id() + 1);
        byte[][] idBytes = new byte[size][];  // [vocabularySize] what each id decodes to
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            idBytes[e.getValue()] = decoderBytes(e.getKey());
        }
        Map<String, Integer> addedIds = new HashMap<>();
        for (AddedToken t : added) {
            idBytes[t.id()] = decoderBytes(t.content());
            addedIds.put(t.content(), t.id());
        }
        for (int id = 0; id < size; id++) {
            if (idBytes[id] == null) fail("model.vocab", "has no token with id " + id + " (ids must be contiguous up to " + (size - 1) + ")");
        }
        BpeModel bpe = new BpeModel(vocab, byteToId, pairRanks, mergeResult, ignoreMerges);
        return new QwenTokenizer(nfc, preTokenizer, bpe, new AddedTokenSplitter(added), addedIds, idBytes);
    }

    /** The ByteLevel decoder's rule: a token whose chars all stand for bytes becomes those bytes, otherwise its own UTF-8. */
    private static byte[] decoderBytes(String token) {
        byte[] bytes = ByteLevel.bytesOf(token);
        return bytes != null ? bytes : token.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    private boolean readNormalizer(JsonNode node) {
        if (isNullOrAbsent(node)) return false;
        String type = string(node, "type", "normalizer.type");
        if ("NFC".equals(type)) return true;
        if ("Sequence".equals(type) && node.path("normalizers").isArray() && node.path("normalizers").isEmpty()) return false;
        throw fail("normalizer.type", "is '" + type + "'; only NFC or none is supported");
    }

    private PreTokenizer readPreTokenizer(JsonNode node) {
        if (isNullOrAbsent(node)) fail("pre_tokenizer", "is missing; expected Sequence[Split, ByteLevel]");
        String type = string(node, "type", "pre_tokenizer.type");
        if (!"Sequence".equals(type)) fail("pre_tokenizer.type", "is '" + type + "'; expected Sequence[Split, ByteLevel]");
        JsonNode steps = node.get("pretokenizers");
        if (steps == null || !steps.isArray() || steps.size() != 2) {
            fail("pre_tokenizer.pretokenizers", "must hold exactly Split then ByteLevel");
        }
        JsonNode split = steps.get(0);
        String splitType = string(split, "type", "pre_tokenizer.pretokenizers[0].type");
        if (!"Split".equals(splitType)) fail("pre_tokenizer.pretokenizers[0].type", "is '" + splitType + "', expected Split");
        String behavior = string(split, "behavior", "pre_tokenizer.pretokenizers[0].behavior");
        if (!"Isolated".equals(behavior)) fail("pre_tokenizer.pretokenizers[0].behavior", "is '" + behavior + "', only Isolated is supported");
        if (split.path("invert").asBoolean(false)) fail("pre_tokenizer.pretokenizers[0].invert", "must be false");
        JsonNode regex = split.path("pattern").get("Regex");
        if (regex == null || !regex.isString()) fail("pre_tokenizer.pretokenizers[0].pattern", "must be {\"Regex\": ...}");

        JsonNode byteLevel = steps.get(1);
        String blType = string(byteLevel, "type", "pre_tokenizer.pretokenizers[1].type");
        if (!"ByteLevel".equals(blType)) fail("pre_tokenizer.pretokenizers[1].type", "is '" + blType + "', expected ByteLevel");
        if (byteLevel.path("add_prefix_space").asBoolean(false)) fail("pre_tokenizer.pretokenizers[1].add_prefix_space", "must be false");
        if (byteLevel.path("use_regex").asBoolean(true)) {
            fail("pre_tokenizer.pretokenizers[1].use_regex", "must be false (the Split step already splits)");
        }
        return new PreTokenizer(regex.stringValue(), source);
    }

    private void checkDecoder(JsonNode node) {
        if (isNullOrAbsent(node)) fail("decoder", "is missing; expected ByteLevel");
        String type = string(node, "type", "decoder.type");
        if (!"ByteLevel".equals(type)) fail("decoder.type", "is '" + type + "', expected ByteLevel");
    }

    private List<AddedToken> readAddedTokens(JsonNode node) {
        List<AddedToken> added = new ArrayList<>();
        if (isNullOrAbsent(node)) return added;
        if (!node.isArray()) fail("added_tokens", "must be an array");
        for (int i = 0; i < node.size(); i++) {
            JsonNode t = node.get(i);
            String field = "added_tokens[" + i + "]";
            String content = string(t, "content", field + ".content");
            if (content.isEmpty()) fail(field + ".content", "is empty");
            JsonNode id = t.get("id");
            if (id == null || !id.isInt() || id.intValue() < 0) fail(field + ".id", "must be a non-negative integer");
            // Matching with these flags set would need whitespace handling we do not implement.
            for (String flag : new String[] {"single_word", "lstrip", "rstrip", "normalized"}) {
                if (t.path(flag).asBoolean(false)) fail(field + "." + flag, "is true for '" + content + "'; only false is supported");
            }
            added.add(new AddedToken(id.intValue(), content, t.path("special").asBoolean(false)));
        }
        return added;
    }

    private String string(JsonNode parent, String name, String field) {
        return string(parent == null ? null : parent.get(name), field);
    }

    private String string(JsonNode n, String field) {
        if (n == null || !n.isString()) fail(field, "must be a string");
        return n.stringValue();
    }

    private static boolean flag(JsonNode n) {
        return n != null && n.asBoolean(false);
    }

    private void requireEmptyOrNull(String name) {
        JsonNode n = modelFields.get(name);
        if (!isNullOrAbsent(n) && !(n.isString() && n.stringValue().isEmpty())) {
            fail("model." + name, "must be empty or null; subword prefixes and suffixes are not supported");
        }
    }

    private static boolean isNullOrAbsent(JsonNode n) {
        return n == null || n.isNull() || n.isMissingNode();
    }

    private TokenizerException fail(String field, String problem) {
        throw new TokenizerException(source + ": field '" + field + "' " + problem);
    }
}

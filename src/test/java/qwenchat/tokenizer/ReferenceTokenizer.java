package qwenchat.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/** The Hugging Face tokenizers library (through DJL's bundled native build) on the bundled tokenizer.json: the oracle. */
final class ReferenceTokenizer {

    private ReferenceTokenizer() {
    }

    static byte[] bundledJson() {
        try (InputStream in = new GZIPInputStream(ReferenceTokenizer.class.getResourceAsStream(QwenTokenizer.BUNDLED_RESOURCE))) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The library as transformers configures it: control tokens in the text are matched. */
    static HuggingFaceTokenizer matchingSpecialTokens() {
        return create(bundledJson());
    }

    /**
     * The library with the control tokens renamed to strings no text contains, so text holding
     * {@code <|im_start|>} is tokenized as text: what {@code split_special_tokens=True} does.
     * (Renamed rather than removed: the library renumbers the added tokens that follow a gap.)
     */
    static HuggingFaceTokenizer splittingSpecialTokens() {
        JsonMapper json = JsonMapper.builder().build();
        ObjectNode root = (ObjectNode) json.readTree(bundledJson());
        for (JsonNode token : root.get("added_tokens")) {
            if (token.get("special").asBoolean()) {
                ((ObjectNode) token).put("content", "\u0000unmatchable-control-token-" + token.get("id").asInt());
            }
        }
        return create(json.writeValueAsBytes(root));
    }

    private static HuggingFaceTokenizer create(byte[] tokenizerJson) {
        try {
            return HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(tokenizerJson),
                    Map.of("addSpecialTokens", "false", "truncation", "false"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int[] encode(HuggingFaceTokenizer tokenizer, String text) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = Math.toIntExact(ids[i]);
        return out;
    }

    static String escape(String s) {
        StringBuilder sb = new StringBuilder("\"");
        s.codePoints().forEach(cp -> {
            if (cp >= 0x20 && cp < 0x7F && cp != '"' && cp != '\\') sb.append((char) cp);
            else sb.append(String.format(cp > 0xFFFF ? "\\U%08X" : "\\u%04X", cp));
        });
        return sb.append('"').toString();
    }

    static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}

package qwenchat.clienttext;

import java.util.Map;
import tools.jackson.databind.JsonNode;

/**
 * The one check of client-supplied text, used by every surface (the API, the chat socket, presets)
 * so they accept and refuse the same strings.
 *
 * <p>Text must be well-formed UTF-16: a lone surrogate ({@code "\ud800"} in JSON) would be stored
 * and later served as JSON that strict parsers reject, and cannot be tokenized faithfully.
 * Identifiers additionally end up in log lines, so they are short and free of control characters.
 */
public final class InputText {

    /** The longest accepted identifier (request ids, user ids, preset ids in frames). */
    public static final int MAX_ID_LENGTH = 128;

    private InputText() {
    }

    /** Returns {@code value} (null stays null) or throws naming {@code field} and the first lone surrogate. */
    public static String wellFormed(String field, String value) {
        if (value == null) return null;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < value.length() && Character.isLowSurrogate(value.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new InvalidTextException(field, String.format(
                        "contains a lone surrogate (\\u%04x) at index %d; text must be valid Unicode", (int) c, i));
            }
        }
        return value;
    }

    /**
     * Returns {@code value} (null stays null) or throws when it is longer than {@link #MAX_ID_LENGTH},
     * holds a control or line-separator character, or is not well-formed.
     */
    public static String identifier(String field, String value) {
        if (value == null) return null;
        if (value.length() > MAX_ID_LENGTH) {
            throw new InvalidTextException(field, "is " + value.length() + " characters; the limit is " + MAX_ID_LENGTH);
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029') {
                throw new InvalidTextException(field, String.format(
                        "contains the control character U+%04X at index %d; control characters are not allowed", (int) c, i));
            }
        }
        return wellFormed(field, value);
    }

    /**
     * Checks every string and field name in a parsed JSON document with {@link #wellFormed}, naming
     * the first bad one by its path ({@code messages[1].content}), before any of it is used or echoed.
     */
    public static void wellFormedTree(JsonNode node) {
        walk(node, "");
    }

    private static void walk(JsonNode node, String path) {
        if (node == null) return;
        if (node.isString()) {
            wellFormed(path.isEmpty() ? "the body" : path, node.stringValue());
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) walk(node.get(i), path + "[" + i + "]");
        } else if (node.isObject()) {
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                String name = wellFormed(path.isEmpty() ? "a field name" : "a field name in " + path, e.getKey());
                walk(e.getValue(), path.isEmpty() ? name : path + "." + name);
            }
        }
    }
}

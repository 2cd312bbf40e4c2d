package qwenchat.api;

import java.util.ArrayList;
import java.util.List;
import qwenchat.clienttext.InputText;
import qwenchat.clienttext.InvalidTextException;
import qwenchat.engine.KernelLimits;
import qwenchat.tokenizer.ChatMessage;
import tools.jackson.databind.JsonNode;

/**
 * Turns a request body into a {@link ChatCompletionRequest}, rejecting anything out of range with
 * a 400 that names the parameter, before the engine is involved. Unknown fields are ignored, as
 * OpenAI-compatible servers do, so newer clients keep working.
 */
final class ChatRequestParser {

    static final int MAX_STOP_STRINGS = 4;

    private ChatRequestParser() {
    }

    static ChatCompletionRequest parse(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw ApiException.invalid(null, "the request body must be a JSON object");
        }
        try {
            // Every string first, so no later message can echo a lone surrogate back.
            InputText.wellFormedTree(root);
            InputText.identifier("user", optionalString(root, "user"));
            InputText.identifier("preset", optionalString(root, "preset"));
        } catch (InvalidTextException e) {
            throw ApiException.invalid(e.field(), e.getMessage());
        }
        String model = optionalString(root, "model");
        List<ChatMessage> messages = messages(root.get("messages"));

        Integer maxTokens = positiveInt(root, "max_completion_tokens");
        if (maxTokens == null) maxTokens = positiveInt(root, "max_tokens");

        Double temperature = number(root, "temperature");
        if (temperature != null && !(temperature >= 0 && temperature <= 2)) {
            throw ApiException.invalid("temperature", "temperature must be between 0 and 2, got " + temperature);
        }
        Double topP = number(root, "top_p");
        if (topP != null && !(topP > 0 && topP <= 1)) {
            throw ApiException.invalid("top_p", "top_p must be greater than 0 and at most 1, got " + topP);
        }
        Integer topK = nonNegativeInt(root, "top_k");
        Double repetition = number(root, "repetition_penalty");
        if (repetition != null && !(repetition > 0 && repetition <= 10)) {
            throw ApiException.invalid("repetition_penalty", "repetition_penalty must be in (0, 10], got " + repetition);
        }
        double presence = penalty(root, "presence_penalty");
        double frequency = penalty(root, "frequency_penalty");

        Long seed = null;
        JsonNode s = root.get("seed");
        if (s != null && !s.isNull()) {
            if (!s.isIntegralNumber() || !s.canConvertToLong()) {
                throw ApiException.invalid("seed", "seed must be an integer, got " + s);
            }
            seed = s.longValue();
        }

        boolean logprobs = bool(root, "logprobs", false);
        Integer top = nonNegativeInt(root, "top_logprobs");
        if (top != null && top > KernelLimits.MAX_TOP_LOGPROBS) {
            throw ApiException.invalid("top_logprobs",
                    "top_logprobs must be 0.." + KernelLimits.MAX_TOP_LOGPROBS + ", got " + top);
        }
        if (top != null && top > 0 && !logprobs) {
            throw ApiException.invalid("top_logprobs", "top_logprobs needs logprobs: true");
        }

        JsonNode n = root.get("n");
        if (n != null && !n.isNull() && !(n.isIntegralNumber() && n.canConvertToLong() && n.longValue() == 1)) {
            throw ApiException.invalid("n", "only n = 1 is supported, got " + n);
        }

        boolean stream = bool(root, "stream", false);
        boolean includeUsage = false;
        JsonNode so = root.get("stream_options");
        if (so != null && !so.isNull()) {
            if (!so.isObject()) throw ApiException.invalid("stream_options", "stream_options must be an object");
            if (!stream) throw ApiException.invalid("stream_options", "stream_options is only allowed with stream: true");
            includeUsage = bool(so, "include_usage", false, "stream_options.include_usage");
        }

        boolean json = false;
        JsonNode rf = root.get("response_format");
        if (rf != null && !rf.isNull()) {
            JsonNode type = rf.isObject() ? rf.get("type") : null;
            if (type == null || !type.isString()) {
                throw ApiException.invalid("response_format", "response_format must be an object with a string 'type'");
            }
            switch (type.stringValue()) {
                case "text" -> { }
                case "json_object" -> json = true;
                default -> throw ApiException.invalid("response_format.type", "response_format type '"
                        + type.stringValue() + "' is not supported; use 'text' or 'json_object'");
            }
        }

        return new ChatCompletionRequest(model, messages, maxTokens, temperature, topP, topK, repetition,
                stops(root.get("stop")), seed, presence, frequency, logprobs, top == null ? 0 : top, stream,
                includeUsage, json, optionalString(root, "user"), optionalString(root, "preset"));
    }

    private static List<ChatMessage> messages(JsonNode node) {
        if (node == null || node.isNull()) throw ApiException.invalid("messages", "'messages' is required");
        if (!node.isArray()) throw ApiException.invalid("messages", "'messages' must be an array");
        if (node.isEmpty()) throw ApiException.invalid("messages", "'messages' must hold at least one message");
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            String where = "messages[" + i + "]";
            JsonNode m = node.get(i);
            if (!m.isObject()) throw ApiException.invalid(where, where + " must be an object");
            JsonNode r = m.get("role");
            if (r == null || !r.isString()) throw ApiException.invalid(where + ".role", where + ".role must be a string");
            String role = switch (r.stringValue()) {
                case "system", "developer" -> "system"; // OpenAI's newer name for the system turn
                case "user" -> "user";
                case "assistant" -> "assistant";
                case "tool", "function" -> throw ApiException.invalid(where + ".role", where + " has role '"
                        + r.stringValue() + "'; tool calls are not supported");
                default -> throw ApiException.invalid(where + ".role", where + " has unknown role '" + r.stringValue()
                        + "'; expected system, developer, user or assistant");
            };
            out.add(new ChatMessage(role, content(m.get("content"), where + ".content")));
        }
        return out;
    }

    /** A string, or an array of text parts joined as OpenAI does for text-only models. */
    private static String content(JsonNode c, String where) {
        if (c == null || c.isNull()) throw ApiException.invalid(where, where + " is required");
        if (c.isString()) return c.stringValue();
        if (!c.isArray()) throw ApiException.invalid(where, where + " must be a string or an array of text parts");
        StringBuilder text = new StringBuilder();
        for (int j = 0; j < c.size(); j++) {
            JsonNode part = c.get(j);
            String pw = where + "[" + j + "]";
            JsonNode type = part.isObject() ? part.get("type") : null;
            if (type == null || !type.isString()) throw ApiException.invalid(pw, pw + " must be an object with a 'type'");
            if (!type.stringValue().equals("text")) {
                throw ApiException.invalid(pw + ".type", pw + " has type '" + type.stringValue()
                        + "'; this model reads text parts only");
            }
            JsonNode t = part.get("text");
            if (t == null || !t.isString()) throw ApiException.invalid(pw + ".text", pw + ".text must be a string");
            if (!text.isEmpty()) text.append('\n');
            text.append(t.stringValue());
        }
        return text.toString();
    }

    private static List<String> stops(JsonNode node) {
        if (node == null || node.isNull()) return List.of();
        List<String> out = new ArrayList<>();
        if (node.isString()) {
            out.add(node.stringValue());
        } else if (node.isArray()) {
            for (JsonNode s : node) {
                if (!s.isString()) throw ApiException.invalid("stop", "every stop sequence must be a string, got " + s);
                out.add(s.stringValue());
            }
        } else {
            throw ApiException.invalid("stop", "stop must be a string or an array of strings");
        }
        if (out.size() > MAX_STOP_STRINGS) {
            throw ApiException.invalid("stop", "at most " + MAX_STOP_STRINGS + " stop sequences are allowed, got " + out.size());
        }
        for (String s : out) if (s.isEmpty()) throw ApiException.invalid("stop", "stop sequences must not be empty");
        return out;
    }

    private static String optionalString(JsonNode root, String field) {
        JsonNode v = root.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isString()) throw ApiException.invalid(field, "'" + field + "' must be a string");
        return v.stringValue();
    }

    private static Double number(JsonNode root, String field) {
        JsonNode v = root.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isNumber()) throw ApiException.invalid(field, "'" + field + "' must be a number, got " + v);
        double d = v.doubleValue();
        if (!Double.isFinite(d)) throw ApiException.invalid(field, "'" + field + "' must be a finite number");
        return d;
    }

    private static double penalty(JsonNode root, String field) {
        Double v = number(root, field);
        if (v == null) return 0;
        if (!(v >= -2 && v <= 2)) throw ApiException.invalid(field, field + " must be between -2 and 2, got " + v);
        return v;
    }

    private static Integer positiveInt(JsonNode root, String field) {
        Integer v = integer(root, field);
        if (v != null && v < 1) throw ApiException.invalid(field, field + " must be at least 1, got " + v);
        return v;
    }

    private static Integer nonNegativeInt(JsonNode root, String field) {
        Integer v = integer(root, field);
        if (v != null && v < 0) throw ApiException.invalid(field, field + " must not be negative, got " + v);
        return v;
    }

    private static Integer integer(JsonNode root, String field) {
        JsonNode v = root.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isIntegralNumber()) throw ApiException.invalid(field, "'" + field + "' must be an integer, got " + v);
        if (!v.canConvertToLong() || v.longValue() > Integer.MAX_VALUE || v.longValue() < Integer.MIN_VALUE) {
            throw ApiException.invalid(field, "'" + field + "' is out of range: " + v);
        }
        return (int) v.longValue();
    }

    private static boolean bool(JsonNode root, String field, boolean absent) {
        return bool(root, field, absent, field);
    }

    private static boolean bool(JsonNode root, String field, boolean absent, String name) {
        JsonNode v = root.get(field);
        if (v == null || v.isNull()) return absent;
        if (!v.isBoolean()) throw ApiException.invalid(name, "'" + name + "' must be true or false, got " + v);
        return v.booleanValue();
    }
}

package qwenchat.api;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import qwenchat.clienttext.InputText;
import qwenchat.clienttext.InvalidTextException;
import qwenchat.engine.KernelLimits;
import qwenchat.tokenizer.ChatMessage;
import qwenchat.tools.ToolChoice;
import qwenchat.tools.ToolDefinition;
import tools.jackson.databind.JsonNode;

/**
 * Turns a request body into a {@link ChatCompletionRequest}, rejecting anything out of range with
 * a 400 that names the parameter, before the engine is involved. Unknown fields are ignored, as
 * OpenAI-compatible servers do, so newer clients keep working.
 */
final class ChatRequestParser {

    static final int MAX_STOP_STRINGS = 4;
    static final int MAX_TOOLS = 128;
    static final int MAX_N = 8;

    private ChatRequestParser() {
    }

    /**
     * A legacy {@code POST /v1/completions} body: the same fields as a chat request where they
     * overlap, {@code prompt} (a string, or an array holding one) instead of {@code messages}, and
     * {@code logprobs} as the number of alternatives (0..5) as that API defines it.
     */
    static ChatCompletionRequest parseLegacy(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw ApiException.invalid(null, "the request body must be a JSON object");
        }
        tools.jackson.databind.node.ObjectNode chat = ((tools.jackson.databind.node.ObjectNode) root).deepCopy();
        JsonNode p = chat.remove("prompt");
        if (p != null && p.isArray() && p.size() == 1) p = p.get(0);
        if (p == null || p.isNull()) throw ApiException.invalid("prompt", "'prompt' is required");
        if (!p.isString()) {
            throw ApiException.invalid("prompt", "'prompt' must be a string or an array holding one string "
                    + "(token arrays and several prompts are not supported)");
        }
        if (p.stringValue().isEmpty()) throw ApiException.invalid("prompt", "'prompt' must not be empty");
        for (String unsupported : new String[] {"suffix", "messages", "tools", "tool_choice"}) {
            JsonNode v = chat.get(unsupported);
            if (v != null && !v.isNull()) {
                throw ApiException.invalid(unsupported, "'" + unsupported + "' is not supported by /v1/completions");
            }
        }
        JsonNode echo = chat.remove("echo");
        if (echo != null && !echo.isNull() && !(echo.isBoolean() && !echo.booleanValue())) {
            throw ApiException.invalid("echo", "only echo: false is supported");
        }
        JsonNode best = chat.remove("best_of");
        if (best != null && !best.isNull() && !(best.isIntegralNumber() && best.longValue() == 1)) {
            throw ApiException.invalid("best_of", "only best_of: 1 is supported");
        }
        JsonNode lp = chat.remove("logprobs");
        chat.remove("top_logprobs");
        if (lp != null && !lp.isNull()) {
            if (!lp.isIntegralNumber() || lp.longValue() < 0 || lp.longValue() > 5) {
                throw ApiException.invalid("logprobs", "logprobs must be an integer from 0 to 5, got " + lp);
            }
            chat.put("logprobs", true);
            chat.put("top_logprobs", lp.intValue());
        }
        chat.putArray("messages").addObject().put("role", "user").put("content", "");
        ChatCompletionRequest r = parse(chat);
        return new ChatCompletionRequest(r.model(), List.of(), r.maxTokens(), r.temperature(), r.topP(), r.topK(), r.minP(),
                r.repetitionPenalty(), r.stop(), r.seed(), r.presencePenalty(), r.frequencyPenalty(), r.logprobs(),
                r.topLogprobs(), r.stream(), r.includeUsage(), r.jsonObject(), r.jsonSchema(), r.user(), r.preset(),
                r.tools(), r.toolChoice(), r.parallelToolCalls(), p.stringValue(), r.n());
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
        Double minP = number(root, "min_p");
        if (minP != null && !(minP >= 0 && minP <= 1)) {
            throw ApiException.invalid("min_p", "min_p must be between 0 and 1, got " + minP);
        }
        Double repetition = number(root, "repetition_penalty");
        if (repetition != null && !(repetition > 0 && repetition <= 10)) {
            throw ApiException.invalid("repetition_penalty", "repetition_penalty must be in (0, 10], got " + repetition);
        }
        Double presence = penalty(root, "presence_penalty");
        Double frequency = penalty(root, "frequency_penalty");

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

        Integer n = positiveInt(root, "n");
        if (n != null && n > MAX_N) throw ApiException.invalid("n", "n must be 1.." + MAX_N + ", got " + n);

        boolean stream = bool(root, "stream", false);
        boolean includeUsage = false;
        JsonNode so = root.get("stream_options");
        if (so != null && !so.isNull()) {
            if (!so.isObject()) throw ApiException.invalid("stream_options", "stream_options must be an object");
            if (!stream) throw ApiException.invalid("stream_options", "stream_options is only allowed with stream: true");
            includeUsage = bool(so, "include_usage", false, "stream_options.include_usage");
        }

        boolean json = false;
        JsonNode jsonSchema = null;
        JsonNode rf = root.get("response_format");
        if (rf != null && !rf.isNull()) {
            JsonNode type = rf.isObject() ? rf.get("type") : null;
            if (type == null || !type.isString()) {
                throw ApiException.invalid("response_format", "response_format must be an object with a string 'type'");
            }
            switch (type.stringValue()) {
                case "text" -> { }
                case "json_object" -> json = true;
                case "json_schema" -> {
                    JsonNode js = rf.get("json_schema");
                    if (js == null || !js.isObject()) {
                        throw ApiException.invalid("response_format.json_schema", "response_format.json_schema must be an "
                                + "object with a 'name' and a 'schema'");
                    }
                    optionalString(js, "name", "response_format.json_schema.name");
                    bool(js, "strict", false, "response_format.json_schema.strict");
                    jsonSchema = js.get("schema");
                    if (jsonSchema == null || jsonSchema.isNull()) jsonSchema = ApiErrors.JSON.createObjectNode();
                    if (!jsonSchema.isObject()) {
                        throw ApiException.invalid("response_format.json_schema.schema",
                                "response_format.json_schema.schema must be a JSON schema object");
                    }
                }
                default -> throw ApiException.invalid("response_format.type", "response_format type '"
                        + type.stringValue() + "' is not supported; use 'text', 'json_object' or 'json_schema'");
            }
        }

        List<ToolDefinition> tools = tools(root.get("tools"));
        ToolChoice toolChoice = toolChoice(root.get("tool_choice"), tools);
        boolean parallelToolCalls = bool(root, "parallel_tool_calls", true);

        return new ChatCompletionRequest(model, messages, maxTokens, temperature, topP, topK, minP, repetition,
                stops(root.get("stop")), seed, presence, frequency, logprobs, top == null ? 0 : top, stream,
                includeUsage, json, jsonSchema, optionalString(root, "user"), optionalString(root, "preset"), tools,
                toolChoice, parallelToolCalls, null, n == null ? 1 : n);
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
                case "tool" -> "tool";
                default -> throw ApiException.invalid(where + ".role", where + " has unknown role '" + r.stringValue()
                        + "'; expected system, developer, user, assistant or tool");
            };
            List<ChatMessage.ToolCall> calls = role.equals("assistant") ? toolCalls(m.get("tool_calls"), where + ".tool_calls")
                    : List.of();
            JsonNode c = m.get("content");
            // An assistant turn that only calls tools has no content, as OpenAI's clients send it.
            String content = !calls.isEmpty() && (c == null || c.isNull()) ? null : content(c, where + ".content");
            if (role.equals("tool")) optionalString(m, "tool_call_id", where + ".tool_call_id");
            out.add(new ChatMessage(role, content, calls));
        }
        return out;
    }

    private static List<ChatMessage.ToolCall> toolCalls(JsonNode node, String where) {
        if (node == null || node.isNull()) return List.of();
        if (!node.isArray()) throw ApiException.invalid(where, where + " must be an array");
        List<ChatMessage.ToolCall> out = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            String w = where + "[" + i + "]";
            JsonNode call = node.get(i);
            if (!call.isObject()) throw ApiException.invalid(w, w + " must be an object");
            String id = optionalString(call, "id", w + ".id");
            try {
                InputText.identifier(w + ".id", id);
            } catch (InvalidTextException e) {
                throw ApiException.invalid(e.field(), e.getMessage());
            }
            JsonNode f = call.get("function");
            if (f == null || !f.isObject()) throw ApiException.invalid(w + ".function", w + ".function must be an object");
            String name = optionalString(f, "name", w + ".function.name");
            if (name == null || name.isEmpty()) throw ApiException.invalid(w + ".function.name", w + ".function.name is required");
            String arguments = optionalString(f, "arguments", w + ".function.arguments");
            out.add(new ChatMessage.ToolCall(id, name, arguments == null ? "{}" : arguments));
        }
        return out;
    }

    private static List<ToolDefinition> tools(JsonNode node) {
        if (node == null || node.isNull()) return List.of();
        if (!node.isArray()) throw ApiException.invalid("tools", "'tools' must be an array");
        if (node.size() > MAX_TOOLS) {
            throw ApiException.invalid("tools", "at most " + MAX_TOOLS + " tools are allowed, got " + node.size());
        }
        List<ToolDefinition> out = new ArrayList<>();
        java.util.Set<String> names = new java.util.HashSet<>();
        for (int i = 0; i < node.size(); i++) {
            String w = "tools[" + i + "]";
            JsonNode t = node.get(i);
            if (!t.isObject()) throw ApiException.invalid(w, w + " must be an object");
            String type = optionalString(t, "type", w + ".type");
            if (!"function".equals(type)) throw ApiException.invalid(w + ".type", w + ".type must be 'function'");
            JsonNode f = t.get("function");
            if (f == null || !f.isObject()) throw ApiException.invalid(w + ".function", w + ".function must be an object");
            String name = optionalString(f, "name", w + ".function.name");
            if (name == null || !name.matches("[A-Za-z0-9_-]{1,64}")) {
                throw ApiException.invalid(w + ".function.name", w + ".function.name must be 1 to 64 letters, digits, "
                        + "underscores or dashes");
            }
            if (!names.add(name)) throw ApiException.invalid(w + ".function.name", "two tools are named '" + name + "'");
            optionalString(f, "description", w + ".function.description");
            JsonNode params = f.get("parameters");
            if (params != null && !params.isNull() && !params.isObject()) {
                throw ApiException.invalid(w + ".function.parameters", w + ".function.parameters must be a JSON schema object");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> schema = params == null || params.isNull() ? Map.of()
                    : ApiErrors.JSON.treeToValue(params, LinkedHashMap.class);
            @SuppressWarnings("unchecked")
            Map<String, Object> asGiven = ApiErrors.JSON.treeToValue(t, LinkedHashMap.class);
            out.add(new ToolDefinition(name, schema, asGiven));
        }
        return out;
    }

    private static ToolChoice toolChoice(JsonNode node, List<ToolDefinition> tools) {
        if (node == null || node.isNull()) return tools.isEmpty() ? ToolChoice.NONE : ToolChoice.AUTO;
        ToolChoice choice;
        if (node.isString()) {
            choice = switch (node.stringValue()) {
                case "auto" -> ToolChoice.AUTO;
                case "none" -> ToolChoice.NONE;
                case "required" -> ToolChoice.REQUIRED;
                default -> throw ApiException.invalid("tool_choice", "tool_choice must be 'auto', 'none', 'required' or "
                        + "{\"type\": \"function\", \"function\": {\"name\": ...}}, got '" + node.stringValue() + "'");
            };
        } else if (node.isObject() && "function".equals(node.path("type").asString(null))
                && node.path("function").path("name").isString()) {
            String name = node.path("function").path("name").stringValue();
            if (tools.stream().noneMatch(t -> t.name().equals(name))) {
                throw ApiException.invalid("tool_choice.function.name", "tool_choice names function '" + name
                        + "', which is not in 'tools'");
            }
            choice = ToolChoice.named(name);
        } else {
            throw ApiException.invalid("tool_choice", "tool_choice must be 'auto', 'none', 'required' or "
                    + "{\"type\": \"function\", \"function\": {\"name\": ...}}");
        }
        if (choice.mode() != ToolChoice.Mode.NONE && tools.isEmpty()) {
            throw ApiException.invalid("tool_choice", "tool_choice '" + choice.mode().name().toLowerCase()
                    + "' needs 'tools'");
        }
        return choice;
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
        return optionalString(root, field, field);
    }

    private static String optionalString(JsonNode parent, String field, String name) {
        JsonNode v = parent.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isString()) throw ApiException.invalid(name, "'" + name + "' must be a string");
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

    private static Double penalty(JsonNode root, String field) {
        Double v = number(root, field);
        if (v == null) return null;
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

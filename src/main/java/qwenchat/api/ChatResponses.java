package qwenchat.api;

import java.nio.charset.StandardCharsets;
import qwenchat.serving.GeneratedToken;
import java.util.List;
import qwenchat.tokenizer.QwenTokenizer;
import qwenchat.tools.ToolCall;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Builds the JSON objects of OpenAI's chat completion responses and chunks, or, for the legacy
 * {@code /v1/completions}, of its {@code text_completion} shape (text in {@code choices[].text},
 * logprobs as parallel arrays).
 */
final class ChatResponses {

    private final String id;
    private final long created;
    private final String model;
    private final QwenTokenizer tokenizer;
    private final boolean legacy;

    ChatResponses(String id, long created, String model, QwenTokenizer tokenizer) {
        this(id, created, model, tokenizer, false);
    }

    ChatResponses(String id, long created, String model, QwenTokenizer tokenizer, boolean legacy) {
        this.legacy = legacy;
        this.id = id;
        this.created = created;
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /** One finished choice: with {@code calls}, {@code text} is what the model wrote besides them (null for nothing). */
    record Choice(String text, List<ToolCall> calls, String finishReason, ArrayNode logprobs) {
    }

    /** The whole answer: every choice, and their usage as {@link RequestUsage} adds it up. */
    ObjectNode completion(List<Choice> choices, RequestUsage usage) {
        ObjectNode root = header(legacy ? "text_completion" : "chat.completion");
        ArrayNode array = root.putArray("choices");
        for (int i = 0; i < choices.size(); i++) {
            Choice c = choices.get(i);
            ObjectNode choice = array.addObject();
            choice.put("index", i);
            if (legacy) {
                choice.put("text", c.text());
            } else {
                ObjectNode message = choice.putObject("message");
                message.put("role", "assistant");
                message.put("content", c.text());
                message.putNull("refusal");
                if (!c.calls().isEmpty()) {
                    ArrayNode calls = message.putArray("tool_calls");
                    for (ToolCall call : c.calls()) {
                        ObjectNode o = calls.addObject();
                        o.put("id", call.id());
                        o.put("type", "function");
                        ObjectNode f = o.putObject("function");
                        f.put("name", call.name());
                        f.put("arguments", call.arguments());
                    }
                }
            }
            putLogprobs(i, choice, c.logprobs());
            choice.put("finish_reason", c.finishReason());
        }
        root.set("usage", usage(usage));
        return root;
    }

    /** A chunk with one choice whose delta holds {@code role} and/or {@code content} (either may be null). */
    ObjectNode chunk(String role, String content, ArrayNode logprobs, String finishReason, boolean usageField) {
        return chunk(0, role, content, logprobs, finishReason, usageField);
    }

    ObjectNode chunk(int index, String role, String content, ArrayNode logprobs, String finishReason, boolean usageField) {
        if (legacy) {
            if (role != null) return null;
            ObjectNode root = header("text_completion");
            ObjectNode choice = root.putArray("choices").addObject();
            choice.put("index", index);
            choice.put("text", content == null ? "" : content);
            putLogprobs(index, choice, logprobs);
            if (finishReason == null) choice.putNull("finish_reason");
            else choice.put("finish_reason", finishReason);
            if (usageField) root.putNull("usage");
            return root;
        }
        ObjectNode root = header("chat.completion.chunk");
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", index);
        ObjectNode delta = choice.putObject("delta");
        if (role != null) delta.put("role", role);
        if (content != null) delta.put("content", content);
        putLogprobs(index, choice, logprobs);
        if (finishReason == null) choice.putNull("finish_reason");
        else choice.put("finish_reason", finishReason);
        if (usageField) root.putNull("usage");
        return root;
    }

    /**
     * A chunk announcing call {@code index} as OpenAI streams it: id, type and name first with empty
     * arguments; the arguments follow in {@link #toolArgumentsChunk}.
     */
    ObjectNode toolCallStartChunk(int choice, int index, ToolCall call, boolean usageField) {
        ObjectNode root = chunk(choice, null, null, null, null, usageField);
        ObjectNode o = ((ObjectNode) root.get("choices").get(0).get("delta")).putArray("tool_calls").addObject();
        o.put("index", index);
        o.put("id", call.id());
        o.put("type", "function");
        ObjectNode f = o.putObject("function");
        f.put("name", call.name());
        f.put("arguments", "");
        return root;
    }

    ObjectNode toolArgumentsChunk(int choice, int index, String arguments, boolean usageField) {
        ObjectNode root = chunk(choice, null, null, null, null, usageField);
        ObjectNode o = ((ObjectNode) root.get("choices").get(0).get("delta")).putArray("tool_calls").addObject();
        o.put("index", index);
        o.putObject("function").put("arguments", arguments);
        return root;
    }

    /** The last chunk when usage was asked for: no choices, only usage. */
    ObjectNode usageChunk(RequestUsage usage) {
        ObjectNode root = header(legacy ? "text_completion" : "chat.completion.chunk");
        root.putArray("choices");
        root.set("usage", usage(usage));
        return root;
    }

    /** One entry of {@code logprobs.content}. */
    ObjectNode logprob(GeneratedToken t) {
        ObjectNode o = tokenEntry(t.id(), t.logprob());
        ArrayNode top = o.putArray("top_logprobs");
        for (int i = 0; i < t.topIds().length; i++) top.add(tokenEntry(t.topIds()[i], t.topLogprobs()[i]));
        return o;
    }

    private ObjectNode tokenEntry(int id, float logprob) {
        ObjectNode o = ApiErrors.JSON.createObjectNode();
        String text = id < tokenizer.vocabularySize() ? tokenizer.decode(new int[] {id}) : "";
        o.put("token", text);
        // Constrained decoding gives ids outside the grammar -inf; JSON has no infinity, so OpenAI's floor stands in.
        o.put("logprob", Float.isFinite(logprob) ? logprob : -9999f);
        ArrayNode bytes = o.putArray("bytes");
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) bytes.add(b & 0xff);
        return o;
    }

    private void putLogprobs(int index, ObjectNode choice, ArrayNode logprobs) {
        if (logprobs == null) {
            choice.putNull("logprobs");
        } else if (legacy) {
            // The legacy shape: parallel arrays, alternatives as {token: logprob} maps, offsets into the text.
            ObjectNode lp = choice.putObject("logprobs");
            ArrayNode tokens = lp.putArray("tokens");
            ArrayNode values = lp.putArray("token_logprobs");
            ArrayNode tops = lp.putArray("top_logprobs");
            ArrayNode offsets = lp.putArray("text_offset");
            for (var entry : logprobs) {
                tokens.add(entry.get("token").stringValue());
                values.add(entry.get("logprob").floatValue());
                ObjectNode top = tops.addObject();
                for (var alt : entry.get("top_logprobs")) top.put(alt.get("token").stringValue(), alt.get("logprob").floatValue());
                offsets.add(textOffset[index]);
                textOffset[index] += entry.get("token").stringValue().length();
            }
        } else {
            ObjectNode lp = choice.putObject("logprobs");
            lp.set("content", logprobs);
            lp.putNull("refusal");
        }
    }

    /** Where the next token's text starts in the completion, for the legacy shape's text_offset. */
    private final int[] textOffset = new int[ChatRequestParser.MAX_N];

    private ObjectNode header(String object) {
        ObjectNode root = ApiErrors.JSON.createObjectNode();
        root.put("id", id);
        root.put("object", object);
        root.put("created", created);
        root.put("model", model);
        root.put("system_fingerprint", "qwen-chat");
        return root;
    }

    private static ObjectNode usage(RequestUsage u) {
        ObjectNode o = ApiErrors.JSON.createObjectNode();
        o.put("prompt_tokens", u.promptTokens());
        o.put("completion_tokens", u.completionTokens());
        o.put("total_tokens", u.totalTokens());
        // As OpenAI reports it: prompt tokens whose KV came from the prefix cache, 0 when none did.
        o.putObject("prompt_tokens_details").put("cached_tokens", u.cachedTokens());
        return o;
    }
}

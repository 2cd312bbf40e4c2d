package qwenchat.api;

import java.nio.charset.StandardCharsets;
import qwenchat.serving.GeneratedToken;
import qwenchat.generation.GenerationUsage;
import qwenchat.tokenizer.QwenTokenizer;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/** Builds the JSON objects of OpenAI's chat completion responses and chunks. */
final class ChatResponses {

    private final String id;
    private final long created;
    private final String model;
    private final QwenTokenizer tokenizer;

    ChatResponses(String id, long created, String model, QwenTokenizer tokenizer) {
        this.id = id;
        this.created = created;
        this.model = model;
        this.tokenizer = tokenizer;
    }

    ObjectNode completion(String text, String finishReason, ArrayNode logprobs, GenerationUsage usage) {
        ObjectNode root = header("chat.completion");
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode message = choice.putObject("message");
        message.put("role", "assistant");
        message.put("content", text);
        message.putNull("refusal");
        putLogprobs(choice, logprobs);
        choice.put("finish_reason", finishReason);
        root.set("usage", usage(usage));
        return root;
    }

    /** A chunk with one choice whose delta holds {@code role} and/or {@code content} (either may be null). */
    ObjectNode chunk(String role, String content, ArrayNode logprobs, String finishReason, boolean usageField) {
        ObjectNode root = header("chat.completion.chunk");
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode delta = choice.putObject("delta");
        if (role != null) delta.put("role", role);
        if (content != null) delta.put("content", content);
        putLogprobs(choice, logprobs);
        if (finishReason == null) choice.putNull("finish_reason");
        else choice.put("finish_reason", finishReason);
        if (usageField) root.putNull("usage");
        return root;
    }

    /** The last chunk when usage was asked for: no choices, only usage. */
    ObjectNode usageChunk(GenerationUsage usage) {
        ObjectNode root = header("chat.completion.chunk");
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
        o.put("logprob", logprob);
        ArrayNode bytes = o.putArray("bytes");
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) bytes.add(b & 0xff);
        return o;
    }

    private static void putLogprobs(ObjectNode choice, ArrayNode logprobs) {
        if (logprobs == null) {
            choice.putNull("logprobs");
        } else {
            ObjectNode lp = choice.putObject("logprobs");
            lp.set("content", logprobs);
            lp.putNull("refusal");
        }
    }

    private ObjectNode header(String object) {
        ObjectNode root = ApiErrors.JSON.createObjectNode();
        root.put("id", id);
        root.put("object", object);
        root.put("created", created);
        root.put("model", model);
        root.put("system_fingerprint", "qwen-chat");
        return root;
    }

    private static ObjectNode usage(GenerationUsage u) {
        ObjectNode o = ApiErrors.JSON.createObjectNode();
        o.put("prompt_tokens", u.promptTokens());
        o.put("completion_tokens", u.completionTokens());
        o.put("total_tokens", u.totalTokens());
        // As OpenAI reports it: prompt tokens whose KV came from the prefix cache, 0 when none did.
        o.putObject("prompt_tokens_details").put("cached_tokens", u.cachedTokens());
        return o;
    }
}

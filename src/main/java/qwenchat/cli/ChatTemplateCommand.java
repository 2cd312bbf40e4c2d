package qwenchat.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import qwenchat.tokenizer.ChatMessage;
import qwenchat.tokenizer.ChatTemplate;
import qwenchat.tokenizer.RenderedPrompt;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

/**
 * {@code chat-template [--tokenizer DIR] --messages FILE|- [--no-generation-prompt]}: renders an array
 * of {@code {role, content}} and prints {@code {"text": ..., "ids": [...]}}.
 */
public final class ChatTemplateCommand implements CliCommand {

    @Override
    public int run(List<String> args, InputStream stdin, PrintStream out, PrintStream err) {
        TokenizerArgs options = new TokenizerArgs("chat-template", args,
                Set.of("--tokenizer", "--messages"), Set.of("--no-generation-prompt"));
        String source = options.required("--messages");
        List<ChatMessage> messages = parseMessages(options.fileOrStdin("--messages", stdin),
                source.equals("-") ? "stdin" : source);
        ChatTemplate template = new ChatTemplate(options.tokenizer());
        RenderedPrompt prompt;
        try {
            prompt = template.render(messages, !options.has("--no-generation-prompt"));
        } catch (IllegalArgumentException e) {
            throw new CliException("chat-template: " + e.getMessage());
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("text", prompt.text());
        result.put("ids", prompt.ids());
        TokenizerArgs.printJson(out, result);
        return 0;
    }

    static List<ChatMessage> parseMessages(String json, String source) {
        JsonNode root;
        try {
            root = TokenizerArgs.JSON.readTree(json);
        } catch (JacksonException e) {
            throw new CliException("chat-template: " + source + " is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isArray()) {
            throw new CliException("chat-template: " + source + " must hold a JSON array of {\"role\", \"content\"} objects");
        }
        List<ChatMessage> messages = new ArrayList<>();
        for (int i = 0; i < root.size(); i++) {
            JsonNode m = root.get(i);
            String where = "chat-template: " + source + ": message " + i;
            if (!m.isObject()) throw new CliException(where + " is not an object");
            for (String name : m.propertyNames()) {
                // Silently dropping e.g. tool_calls would render a different conversation than asked for.
                if (!name.equals("role") && !name.equals("content")) {
                    throw new CliException(where + " has field '" + name + "', which is not supported (only role and content)");
                }
            }
            messages.add(new ChatMessage(string(m, "role", where), string(m, "content", where)));
        }
        return messages;
    }

    private static String string(JsonNode message, String field, String where) {
        JsonNode v = message.get(field);
        if (v == null || !v.isString()) throw new CliException(where + " needs a string '" + field + "'");
        return v.stringValue();
    }
}

package qwenchat.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The checkpoint's own Jinja chat template ({@code chat_template} in tokenizer_config.json),
 * rendered with Jinjava the way transformers' {@code apply_chat_template} renders it (trim_blocks,
 * lstrip_blocks, a {@code tojson} that writes Python's {@code json.dumps}). A checkpoint without
 * one gets the bundled Qwen2.5 template.
 *
 * <p>Control tokens must come from the template only: a {@code <|im_start|>} typed in a message
 * (or a tool's description, or call arguments) stays text and cannot open a turn. So before the
 * template is compiled, every control token written in its source is replaced by a marker holding
 * a random nonce of this instance, which no client can know. The rendered text is then cut at the
 * markers: each marker becomes its token's id, and each run between two markers (template text and
 * message content together) is encoded as plain text, exactly as the reference library splits the
 * rendered text around control tokens. For content without control-token text the ids therefore
 * equal the reference's encoding of the rendered text.
 */
public final class ChatTemplate {

    /** The system prompt of Qwen2.5's template, used by callers that extend it (JSON instructions). */
    public static final String DEFAULT_SYSTEM_PROMPT = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

    static final String BUNDLED_CONFIG = "/qwen2.5/tokenizer_config.json";
    private static final JsonMapper JSON = JsonMapper.builder().build();
    /** Private-use code points bracket the markers, so they never merge with template text around them. */
    private static final char MARK_OPEN = '\uF8F0';
    private static final char MARK_CLOSE = '\uF8F1';

    private final QwenTokenizer tokenizer;
    private final Jinjava jinjava;
    private final String source; // the template with control tokens replaced by markers
    private final String nonce;
    private final List<String> controlTexts = new ArrayList<>();
    private final List<Integer> controlIds = new ArrayList<>();

    /** The bundled Qwen2.5-Instruct template. */
    public ChatTemplate(QwenTokenizer tokenizer) {
        this(tokenizer, bundledSource());
    }

    public ChatTemplate(QwenTokenizer tokenizer, String jinjaSource) {
        if (jinjaSource == null || jinjaSource.isBlank()) throw new IllegalArgumentException("the chat template is empty");
        this.tokenizer = tokenizer;
        byte[] random = new byte[16];
        new SecureRandom().nextBytes(random);
        this.nonce = HexFormat.of().formatHex(random);
        String marked = jinjaSource;
        // Longest first, so a token that contains another is replaced whole.
        List<Map.Entry<String, Integer>> controls = new ArrayList<>(tokenizer.controlTokens().entrySet());
        controls.sort((a, b) -> b.getKey().length() - a.getKey().length());
        for (Map.Entry<String, Integer> c : controls) {
            if (!marked.contains(c.getKey())) continue;
            marked = marked.replace(c.getKey(), marker(controlTexts.size()));
            controlTexts.add(c.getKey());
            controlIds.add(c.getValue());
        }
        this.source = marked;
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withParseWhitespaceControlStrictly(true)
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .build();
        this.jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFilter(new Filter() {
            @Override
            public String getName() {
                return "tojson";
            }

            @Override
            public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
                return PythonJson.dumps(var);
            }
        });
        compileCheck();
    }

    /**
     * The template of {@code dir/tokenizer_config.json}, or the bundled Qwen2.5 one when the
     * directory has no such file or the file has no {@code chat_template}.
     */
    public static ChatTemplate forDirectory(QwenTokenizer tokenizer, Path dir) {
        Path file = dir.resolve("tokenizer_config.json");
        if (!Files.isRegularFile(file)) return new ChatTemplate(tokenizer);
        try {
            String source = templateOf(JSON.readTree(Files.readAllBytes(file)), file.toString());
            return source == null ? new ChatTemplate(tokenizer) : new ChatTemplate(tokenizer, source);
        } catch (IOException | JacksonException e) {
            throw new TokenizerException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    public RenderedPrompt render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, List.of(), addGenerationPrompt);
    }

    /**
     * @param tools OpenAI tool definitions ({@code {"type": "function", "function": {...}}}) as
     *              maps and lists in the client's key order; empty for none
     */
    public RenderedPrompt render(List<ChatMessage> messages, List<?> tools, boolean addGenerationPrompt) {
        validate(messages);
        Map<String, Object> bindings = new LinkedHashMap<>();
        bindings.put("messages", messages.stream().map(ChatTemplate::binding).toList());
        if (tools != null && !tools.isEmpty()) bindings.put("tools", tools);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result = jinjava.renderForResult(source, bindings);
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new IllegalArgumentException("the chat template failed: " + e.getMessage());
            }
        }
        return split(result.getOutput());
    }

    private RenderedPrompt split(String rendered) {
        StringBuilder text = new StringBuilder();
        IntList ids = new IntList();
        String prefix = MARK_OPEN + nonce + ":";
        int from = 0;
        while (true) {
            int at = rendered.indexOf(prefix, from);
            int end = at < 0 ? -1 : rendered.indexOf(MARK_CLOSE, at + prefix.length());
            if (at < 0 || end < 0) {
                String run = rendered.substring(from);
                text.append(run);
                tokenizer.encodeInto(run, ids);
                return new RenderedPrompt(text.toString(), ids.toArray());
            }
            String run = rendered.substring(from, at);
            text.append(run);
            tokenizer.encodeInto(run, ids);
            int index = Integer.parseInt(rendered.substring(at + prefix.length(), end));
            text.append(controlTexts.get(index));
            ids.add(controlIds.get(index));
            from = end + 1;
        }
    }

    private String marker(int index) {
        return MARK_OPEN + nonce + ":" + index + MARK_CLOSE;
    }

    /** What the template sees of a message: OpenAI's shape, tool call arguments as parsed JSON. */
    private static Map<String, Object> binding(ChatMessage m) {
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("role", m.role());
        b.put("content", m.content());
        if (!m.toolCalls().isEmpty()) {
            List<Map<String, Object>> calls = new ArrayList<>();
            for (ChatMessage.ToolCall c : m.toolCalls()) {
                Map<String, Object> function = new LinkedHashMap<>();
                function.put("name", c.name());
                function.put("arguments", parsedArguments(c.arguments()));
                Map<String, Object> call = new LinkedHashMap<>();
                if (c.id() != null) call.put("id", c.id());
                call.put("type", "function");
                call.put("function", function);
                calls.add(call);
            }
            b.put("tool_calls", calls);
        }
        return b;
    }

    /** Arguments the model wrote are JSON text; the template dumps them as an object, as serving stacks pass them. */
    private static Object parsedArguments(String arguments) {
        if (arguments == null) return Map.of();
        try {
            JsonNode node = JSON.readTree(arguments);
            return node == null ? arguments : JSON.treeToValue(node, Object.class);
        } catch (JacksonException e) {
            return arguments;
        }
    }

    private void compileCheck() {
        RenderResult probe = jinjava.renderForResult(source, Map.of("messages",
                List.of(Map.of("role", "user", "content", "")), "add_generation_prompt", true));
        for (TemplateError e : probe.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new TokenizerException("the chat template does not render: " + e.getMessage());
            }
        }
    }

    private static String templateOf(JsonNode config, String where) {
        JsonNode t = config == null ? null : config.get("chat_template");
        if (t == null || t.isNull()) return null;
        if (t.isString()) return t.stringValue();
        // Newer configs may hold a list of named templates; the one named "default" is the chat template.
        if (t.isArray()) {
            for (JsonNode named : t) {
                if ("default".equals(named.path("name").asString(null)) && named.path("template").isString()) {
                    return named.get("template").stringValue();
                }
            }
        }
        throw new TokenizerException(where + ": chat_template must be a string or a list holding one named 'default'");
    }

    private static String bundledSource() {
        try (InputStream in = ChatTemplate.class.getResourceAsStream(BUNDLED_CONFIG)) {
            if (in == null) throw new TokenizerException("classpath:" + BUNDLED_CONFIG + ": missing from the classpath");
            String source = templateOf(JSON.readTree(in.readAllBytes()), "classpath:" + BUNDLED_CONFIG);
            if (source == null) throw new TokenizerException("classpath:" + BUNDLED_CONFIG + ": has no chat_template");
            return source;
        } catch (IOException e) {
            throw new TokenizerException("classpath:" + BUNDLED_CONFIG + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static void validate(List<ChatMessage> messages) {
        if (messages == null || messages.isEmpty()) {
            throw new IllegalArgumentException("a conversation needs at least one message");
        }
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            if (m == null) throw new IllegalArgumentException("message " + i + " is null");
            if (m.role() == null) throw new IllegalArgumentException("message " + i + " has no role");
            switch (m.role()) {
                case "system", "user", "assistant", "tool" -> { }
                default -> throw new IllegalArgumentException("message " + i + " has unknown role '" + m.role()
                        + "'; expected system, user, assistant or tool");
            }
            if (m.content() == null && !(m.role().equals("assistant") && !m.toolCalls().isEmpty())) {
                throw new IllegalArgumentException("message " + i + " (" + m.role() + ") has no content");
            }
            if (!m.toolCalls().isEmpty() && !m.role().equals("assistant")) {
                throw new IllegalArgumentException("message " + i + " (" + m.role() + ") has tool calls; only assistant turns may");
            }
        }
    }
}

package qwenchat.tools;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Reads the model's output as it streams and separates text from tool calls, which Qwen2.5 writes
 * as {@code <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>}.
 *
 * <p>Only generated text is given to it, so a {@code <tool_call>} a user typed can never be taken
 * for a call. Text that might be the start of {@code <tool_call>} is held back until it is known
 * either way; a call is released whole once its closing tag (or the end of output) arrives. A block
 * that is not a JSON object with a known function {@code name} and object {@code arguments} is given
 * back as plain text, so a malformed call degrades to content and never to an error. Whitespace
 * between calls is dropped. With {@code parallel} false, calls after the first are dropped, as the
 * client asked for at most one.
 */
public final class ToolCallExtractor {

    public static final String OPEN = "<tool_call>";
    public static final String CLOSE = "</tool_call>";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** What the extractor releases: text for {@code content}, or a finished call. */
    public sealed interface Piece permits Text, Call {
    }

    public record Text(String text) implements Piece {
    }

    public record Call(ToolCall call) implements Piece {
    }

    /** A whole output split at once: the calls, or only content when any block failed to parse. */
    public record Parsed(String content, List<ToolCall> calls) {
    }

    private final Set<String> functions;
    private final boolean parallel;
    private final Supplier<String> ids;
    private final StringBuilder pending = new StringBuilder();
    private boolean inCall;
    private int calls;
    private boolean malformed;

    /**
     * @param functions the names the client offered; a call of any other name is text
     * @param ids a fresh call id per call
     */
    public ToolCallExtractor(Set<String> functions, boolean parallel, Supplier<String> ids) {
        this.functions = Set.copyOf(functions);
        this.parallel = parallel;
        this.ids = ids;
    }

    /** Splits a complete output; any malformed call makes the whole output plain content. */
    public static Parsed parse(String output, Set<String> functions, boolean parallel, Supplier<String> ids) {
        ToolCallExtractor x = new ToolCallExtractor(functions, parallel, ids);
        List<Piece> pieces = new ArrayList<>(x.accept(output));
        pieces.addAll(x.finish());
        if (x.malformed || x.calls == 0) return new Parsed(output, List.of());
        StringBuilder content = new StringBuilder();
        List<ToolCall> calls = new ArrayList<>();
        for (Piece p : pieces) {
            switch (p) {
                case Text t -> content.append(t.text());
                case Call c -> calls.add(c.call());
            }
        }
        String text = content.toString().strip();
        return new Parsed(text.isEmpty() ? null : text, calls);
    }

    /** Whether any call was released so far (the finish reason becomes {@code tool_calls}). */
    public boolean madeCalls() {
        return calls > 0;
    }

    public List<Piece> accept(String text) {
        pending.append(text);
        List<Piece> out = new ArrayList<>();
        while (true) {
            if (inCall) {
                int close = pending.indexOf(CLOSE);
                if (close < 0) return out;
                String body = pending.substring(0, close);
                pending.delete(0, close + CLOSE.length());
                inCall = false;
                call(body, true, out);
                continue;
            }
            int open = pending.indexOf(OPEN);
            if (open >= 0) {
                text(pending.substring(0, open), out);
                pending.delete(0, open + OPEN.length());
                inCall = true;
                continue;
            }
            int keep = partialOpenSuffix();
            text(pending.substring(0, pending.length() - keep), out);
            pending.delete(0, pending.length() - keep);
            return out;
        }
    }

    /** The end of output: an unclosed call is read as far as it goes, held-back text released. */
    public List<Piece> finish() {
        List<Piece> out = new ArrayList<>();
        if (inCall) {
            inCall = false;
            call(pending.toString(), false, out);
        } else {
            text(pending.toString(), out);
        }
        pending.setLength(0);
        return out;
    }

    private void call(String body, boolean closed, List<Piece> out) {
        ToolCall call = read(body);
        if (call == null) {
            malformed = true;
            out.add(new Text(OPEN + body + (closed ? CLOSE : "")));
            return;
        }
        if (calls > 0 && !parallel) return;
        calls++;
        out.add(new Call(call));
    }

    private ToolCall read(String body) {
        JsonNode node;
        try {
            node = JSON.readTree(body);
        } catch (JacksonException e) {
            return null;
        }
        if (node == null || !node.isObject()) return null;
        JsonNode name = node.get("name");
        if (name == null || !name.isString() || !functions.contains(name.stringValue())) return null;
        JsonNode args = node.get("arguments");
        if (args == null || args.isNull()) args = JSON.createObjectNode();
        if (args.isString()) {
            // Some fine-tunes quote the arguments; accept them when the text inside is an object.
            try {
                args = JSON.readTree(args.stringValue());
            } catch (JacksonException e) {
                return null;
            }
        }
        if (args == null || !args.isObject()) return null;
        return new ToolCall(ids.get(), name.stringValue(), JSON.writeValueAsString(args));
    }

    private void text(String s, List<Piece> out) {
        if (s.isEmpty()) return;
        // The newlines that separate calls are layout, not content.
        if (calls > 0 && s.isBlank()) return;
        out.add(new Text(s));
    }

    /** How many trailing chars of {@code pending} could begin {@code <tool_call>}. */
    private int partialOpenSuffix() {
        for (int n = Math.min(OPEN.length() - 1, pending.length()); n > 0; n--) {
            if (OPEN.startsWith(pending.substring(pending.length() - n))) return n;
        }
        return 0;
    }
}

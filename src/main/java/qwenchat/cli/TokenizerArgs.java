package qwenchat.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import qwenchat.tokenizer.QwenTokenizer;
import qwenchat.tokenizer.TokenizerException;
import tools.jackson.databind.json.JsonMapper;

/** Option parsing and I/O shared by the tokenize and chat-template commands. */
final class TokenizerArgs {

    static final JsonMapper JSON = JsonMapper.builder().build();

    private final String command;
    private final Map<String, String> values = new HashMap<>();

    /**
     * @param valued options that take a value ({@code --text TEXT})
     * @param flags  options that stand alone ({@code --no-generation-prompt})
     */
    TokenizerArgs(String command, List<String> args, Set<String> valued, Set<String> flags) {
        this.command = command;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (flags.contains(a)) {
                values.put(a, "true");
            } else if (valued.contains(a)) {
                if (i + 1 >= args.size()) throw new CliException(command + ": option " + a + " needs a value");
                values.put(a, args.get(++i));
            } else {
                Set<String> known = new TreeSet<>(valued);
                known.addAll(flags);
                throw new CliException(command + ": unknown argument '" + a + "'; options: " + String.join(", ", known));
            }
        }
    }

    boolean has(String option) {
        return values.containsKey(option);
    }

    String required(String option) {
        String v = values.get(option);
        if (v == null) throw new CliException(command + ": option " + option + " is required");
        return v;
    }

    /** {@code --tokenizer DIR}, or the tokenizer bundled in the jar. */
    QwenTokenizer tokenizer() {
        String dir = values.get("--tokenizer");
        try {
            return dir == null ? QwenTokenizer.bundled() : QwenTokenizer.load(Path.of(dir));
        } catch (TokenizerException e) {
            throw new CliException(command + ": --tokenizer: " + e.getMessage());
        }
    }

    /** The option's value, or all of stdin when the value is {@code -}. */
    String textOrStdin(String option, InputStream stdin) {
        String v = required(option);
        return v.equals("-") ? readAll(stdin) : v;
    }

    /** The contents of the file the option names, or all of stdin when it is {@code -}. */
    String fileOrStdin(String option, InputStream stdin) {
        String v = required(option);
        if (v.equals("-")) return readAll(stdin);
        try {
            return Files.readString(Path.of(v), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new CliException(command + ": " + option + ": no such file " + v);
        } catch (IOException e) {
            throw new CliException(command + ": " + option + ": cannot read " + v + ": " + e.getMessage());
        }
    }

    private static String readAll(InputStream stdin) {
        try {
            return new String(stdin.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read stdin", e);
        }
    }

    /** Writes one JSON document as UTF-8, whatever the platform encoding of {@code out}. */
    static void printJson(PrintStream out, Object value) {
        byte[] json = JSON.writeValueAsBytes(value);
        out.write(json, 0, json.length);
        out.println();
    }
}

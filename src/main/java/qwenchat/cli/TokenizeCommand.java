package qwenchat.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code tokenize [--tokenizer DIR] --text TEXT|-}: prints {@code {"ids":[...]}} for plain text. */
public final class TokenizeCommand implements CliCommand {

    @Override
    public int run(List<String> args, InputStream stdin, PrintStream out, PrintStream err) {
        TokenizerArgs options = new TokenizerArgs("tokenize", args, Set.of("--tokenizer", "--text"), Set.of());
        String text = options.textOrStdin("--text", stdin);
        int[] ids = options.tokenizer().encode(text);
        TokenizerArgs.printJson(out, Map.of("ids", ids));
        return 0;
    }
}

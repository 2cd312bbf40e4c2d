package qwenchat.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.util.List;

/** One CLI verb. Errors are reported by throwing {@link CliException}; the dispatcher prints them to stderr. */
public interface CliCommand {
    /** @return the process exit code */
    int run(List<String> args, InputStream stdin, PrintStream out, PrintStream err) throws Exception;
}

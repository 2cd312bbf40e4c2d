package qwenchat.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.util.List;

/** Placeholder until the command lands. */
public final class GpuBenchCommand implements CliCommand {
    @Override
    public int run(List<String> args, InputStream stdin, PrintStream out, PrintStream err) {
        throw new CliException("not implemented yet");
    }
}

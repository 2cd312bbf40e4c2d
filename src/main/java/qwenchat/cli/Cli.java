package qwenchat.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/** Dispatches {@code qwen-chat.jar <command> ...} to the command's class. */
public final class Cli {

    private static final Map<String, Supplier<CliCommand>> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("tokenize", TokenizeCommand::new);
        COMMANDS.put("chat-template", ChatTemplateCommand::new);
        COMMANDS.put("generate", GenerateCommand::new);
        COMMANDS.put("bench-cpu", CpuBenchCommand::new);
        COMMANDS.put("bench", GpuBenchCommand::new);
        COMMANDS.put("load-test", LoadTestCommand::new);
        COMMANDS.put("help", () -> (args, in, out, err) -> {
            usage(out);
            return 0;
        });
    }

    private Cli() {
    }

    public static boolean isCommand(String name) {
        return COMMANDS.containsKey(name);
    }

    public static int run(String[] argv, InputStream stdin, PrintStream out, PrintStream err) {
        Supplier<CliCommand> command = COMMANDS.get(argv[0]);
        if (command == null) {
            err.println("unknown command '" + argv[0] + "'");
            usage(err);
            return 2;
        }
        List<String> args = Arrays.asList(argv).subList(1, argv.length);
        try {
            return command.get().run(args, stdin, out, err);
        } catch (CliException e) {
            err.println("error: " + e.getMessage());
            return 2;
        } catch (Exception e) {
            err.println("error: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return 1;
        } finally {
            out.flush();
        }
    }

    private static void usage(PrintStream s) {
        s.println("usage: java -jar qwen-chat.jar [command]   (no command: start the server)");
        s.println("commands: " + String.join(", ", COMMANDS.keySet()));
    }
}

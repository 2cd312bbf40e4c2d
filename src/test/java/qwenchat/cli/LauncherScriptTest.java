package qwenchat.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** ./qwen-chat runs the jar with a JDK >= 21 even where the default java is older. */
class LauncherScriptTest {

    private static final Path SCRIPT = Path.of("qwen-chat").toAbsolutePath();

    @Test
    void choosesAJavaOf21OrNewerWhenJavaHomeIsUnsetAndAnOlderJavaComesFirstOnThePath() throws Exception {
        Map<String, String> env = new java.util.HashMap<>(System.getenv());
        env.remove("JAVA_HOME");
        // Put an older JDK first on the PATH where this machine has one, as on a stock Debian image.
        olderJdkBin().ifPresent(bin -> env.put("PATH", bin + File.pathSeparator + env.getOrDefault("PATH", "")));
        String out = run(env, 0);
        assertThat(out).containsPattern("(?m)^java=.+");
        int version = Integer.parseInt(out.replaceAll("(?s).*version=(\\d+).*", "$1"));
        assertThat(version).isGreaterThanOrEqualTo(21);
    }

    @Test
    void refusesAnExplicitJavaHomeOlderThan21WithAReason() throws Exception {
        var older = olderJdkBin();
        if (older.isEmpty()) return; // nothing older than 21 on this machine to point at
        Map<String, String> env = new java.util.HashMap<>(System.getenv());
        env.put("JAVA_HOME", older.get().getParent().toString());
        assertThat(run(env, 1)).contains("needs Java 21 or newer");
    }

    private static String run(Map<String, String> env, int expectedExit) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("sh", SCRIPT.toString(), "--launcher-java").redirectErrorStream(true);
        pb.environment().clear();
        pb.environment().putAll(env);
        Process p = pb.start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("launcher finished").isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isEqualTo(expectedExit);
        return out;
    }

    /** The bin directory of a JDK older than 21 under /usr/lib/jvm, by its release file. */
    private static java.util.Optional<Path> olderJdkBin() throws Exception {
        Path jvm = Path.of("/usr/lib/jvm");
        if (!Files.isDirectory(jvm)) return java.util.Optional.empty();
        try (Stream<Path> dirs = Files.list(jvm)) {
            return dirs.filter(d -> Files.isExecutable(d.resolve("bin/java")) && major(d) > 0 && major(d) < 21)
                    .map(d -> d.resolve("bin"))
                    .findFirst();
        }
    }

    private static int major(Path jdk) {
        try {
            for (String line : Files.readAllLines(jdk.resolve("release"))) {
                if (line.startsWith("JAVA_VERSION=")) {
                    String[] parts = line.substring("JAVA_VERSION=".length()).replace("\"", "").split("\\.");
                    int first = Integer.parseInt(parts[0]);
                    return first == 1 && parts.length > 1 ? Integer.parseInt(parts[1]) : first;
                }
            }
        } catch (Exception e) {
            // no readable release file: not a JDK this test can classify
        }
        return -1;
    }
}

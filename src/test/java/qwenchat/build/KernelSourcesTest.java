package qwenchat.build;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import qwenchat.engine.KernelLimits;

/**
 * The CUDA sources stay consistent with the Java code they mirror: shared sizes have one value, and
 * the CPU counterparts that kernel comments name exist.
 */
class KernelSourcesTest {

    private static final Path CUDA = Path.of("src/main/cuda");
    private static final Path JAVA = Path.of("src/main/java");
    private static final Pattern CONSTANT = Pattern.compile("^\\s*constexpr\\s+int\\s+([A-Z][A-Z0-9_]*)\\s*=\\s*(-?\\d+)\\s*;");
    /**
     * {@code Class#member}, {@code Class.member} or {@code pkg.Class#member}, not preceded by an
     * identifier. A class name has a lower-case letter, which leaves matrix notation such as
     * {@code P.V} or {@code QKV.x} alone.
     */
    private static final Pattern MEMBER_REF = Pattern.compile(
            "(?<![A-Za-z0-9_.])((?:[a-z][a-z0-9_]*\\.)*[A-Z][A-Za-z0-9_]*[a-z][A-Za-z0-9_]*)[#.]([A-Za-z_][A-Za-z0-9_]*)");
    /** {@code Class's camelCaseName}: the way a drifted comment named a method that does not exist. */
    private static final Pattern POSSESSIVE_REF = Pattern.compile(
            "(?<![A-Za-z0-9_])([A-Z][A-Za-z0-9_]*)'s ([a-z][a-z0-9]*[A-Z][A-Za-z0-9_]*)");

    @Test
    void everyConstantInLimitsCuhHasAJavaTwinInKernelLimitsWithTheSameValue() throws IOException {
        Map<String, Integer> cuda = cudaLimits();
        assertThat(cuda).as("constants parsed from limits.cuh").isNotEmpty();
        assertThat(javaLimits()).isEqualTo(cuda);
    }

    @Test
    void theApiReferenceStatesTheTopLogprobsLimitTheKernelsHave() throws IOException {
        String api = Files.readString(Path.of("docs/api.md"));
        assertThat(api).containsPattern("\\| `top_logprobs` \\| integer 0\\.\\." + KernelLimits.MAX_TOP_LOGPROBS + " \\|");
    }

    @Test
    void classesAndMethodsNamedInKernelCommentsExist() throws IOException {
        Map<String, List<String>> classesBySimpleName = javaClassesBySimpleName();
        List<String> problems = new ArrayList<>();
        int checked = 0;
        for (Path file : kernelSources()) {
            int lineNo = 0;
            for (String line : Files.readAllLines(file)) {
                lineNo++;
                int comment = line.indexOf("//");
                if (comment < 0) continue;
                String text = line.substring(comment + 2);
                String where = file.getFileName() + ":" + lineNo + ": ";
                Matcher m = MEMBER_REF.matcher(text);
                while (m.find()) {
                    checked++;
                    String problem = checkMember(classesBySimpleName, m.group(1), m.group(2), true);
                    if (problem != null) problems.add(where + m.group() + ": " + problem);
                }
                Matcher p = POSSESSIVE_REF.matcher(text);
                while (p.find()) {
                    // Possessives of words that are not our classes ("the GPU's memoryClock") are prose.
                    if (!classesBySimpleName.containsKey(p.group(1))) continue;
                    checked++;
                    String problem = checkMember(classesBySimpleName, p.group(1), p.group(2), false);
                    if (problem != null) problems.add(where + p.group() + ": " + problem);
                }
            }
        }
        assertThat(checked).as("references found in kernel comments").isPositive();
        assertThat(problems).as("kernel comments naming Java code that does not exist").isEmpty();
    }

    private static String checkMember(Map<String, List<String>> bySimpleName, String className, String member,
            boolean mustBeOurs) {
        List<String> candidates = className.contains(".") ? List.of(className)
                : bySimpleName.getOrDefault(className, List.of());
        if (candidates.isEmpty()) return mustBeOurs ? "no class " + className + " in src/main/java" : null;
        if (candidates.size() > 1) return "ambiguous class name, write it qualified: " + candidates;
        Class<?> c;
        try {
            c = Class.forName(candidates.get(0), false, KernelSourcesTest.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            return "no class " + candidates.get(0);
        }
        for (Class<?> k = c; k != null; k = k.getSuperclass()) {
            if (declares(k, member)) return null;
            for (Class<?> i : k.getInterfaces()) if (declares(i, member)) return null;
        }
        return c.getName() + " has no method or field " + member;
    }

    private static boolean declares(Class<?> c, String member) {
        return Arrays.stream(c.getDeclaredMethods()).anyMatch(m -> m.getName().equals(member))
                || Arrays.stream(c.getDeclaredFields()).anyMatch(f -> f.getName().equals(member));
    }

    private static Map<String, Integer> cudaLimits() throws IOException {
        Map<String, Integer> out = new TreeMap<>();
        for (String line : Files.readAllLines(CUDA.resolve("limits.cuh"))) {
            Matcher m = CONSTANT.matcher(line);
            if (m.find()) out.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        return out;
    }

    private static Map<String, Integer> javaLimits() throws IOException {
        Map<String, Integer> out = new TreeMap<>();
        for (Field f : KernelLimits.class.getDeclaredFields()) {
            int mod = f.getModifiers();
            if (Modifier.isStatic(mod) && Modifier.isFinal(mod) && f.getType() == int.class) {
                try {
                    out.put(f.getName(), f.getInt(null));
                } catch (IllegalAccessException e) {
                    throw new IOException(e);
                }
            }
        }
        return out;
    }

    private static List<Path> kernelSources() throws IOException {
        try (Stream<Path> s = Files.list(CUDA)) {
            return s.filter(p -> p.toString().endsWith(".cu") || p.toString().endsWith(".cuh")).sorted().toList();
        }
    }

    private static Map<String, List<String>> javaClassesBySimpleName() throws IOException {
        Map<String, List<String>> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(JAVA)) {
            for (Path p : s.filter(p -> p.toString().endsWith(".java")).toList()) {
                String rel = JAVA.relativize(p).toString();
                String fqcn = rel.substring(0, rel.length() - ".java".length()).replace('/', '.').replace('\\', '.');
                String simple = p.getFileName().toString().replace(".java", "");
                out.computeIfAbsent(simple, k -> new ArrayList<>()).add(fqcn);
            }
        }
        return out;
    }
}

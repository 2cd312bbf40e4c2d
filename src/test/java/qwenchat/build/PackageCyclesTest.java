package qwenchat.build;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The packages of src/main/java depend on each other without cycles, so each capability can be
 * read, tested and replaced from the bottom up. Dependencies are read from the sources: imports of
 * qwenchat classes and fully qualified {@code qwenchat.x.Y} references in code.
 */
class PackageCyclesTest {

    private static final Path MAIN = Path.of("src/main/java");
    private static final Pattern PACKAGE = Pattern.compile("^package (qwenchat[\\w.]*);", Pattern.MULTILINE);
    /** A qwenchat package followed by a class name: an import or a qualified reference. */
    private static final Pattern REFERENCE = Pattern.compile("\\b(qwenchat(?:\\.[a-z]\\w*)*)\\.[A-Z]");

    static Map<String, Set<String>> dependencies() throws IOException {
        Map<String, Set<String>> deps = new TreeMap<>();
        try (Stream<Path> files = Files.walk(MAIN)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String src = Files.readString(f);
                Matcher pm = PACKAGE.matcher(src);
                if (!pm.find()) continue;
                String pkg = pm.group(1);
                Set<String> out = deps.computeIfAbsent(pkg, k -> new TreeSet<>());
                // Comments may name other packages without depending on them.
                String code = src.replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\\n]*", "");
                Matcher m = REFERENCE.matcher(code);
                while (m.find()) {
                    String target = m.group(1);
                    if (!target.equals(pkg) && !target.equals("qwenchat")) out.add(target);
                }
            }
        }
        return deps;
    }

    /** Strongly connected components with more than one package (Tarjan), each sorted. */
    static List<List<String>> cycles(Map<String, Set<String>> deps) {
        Map<String, Integer> index = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new TreeSet<>();
        List<List<String>> out = new ArrayList<>();
        int[] counter = {0};
        for (String v : deps.keySet()) {
            if (!index.containsKey(v)) connect(v, deps, index, low, stack, onStack, out, counter);
        }
        return out;
    }

    private static void connect(String v, Map<String, Set<String>> deps, Map<String, Integer> index,
            Map<String, Integer> low, Deque<String> stack, Set<String> onStack, List<List<String>> out, int[] counter) {
        index.put(v, counter[0]);
        low.put(v, counter[0]++);
        stack.push(v);
        onStack.add(v);
        for (String w : deps.getOrDefault(v, Set.of())) {
            if (!deps.containsKey(w)) continue;
            if (!index.containsKey(w)) {
                connect(w, deps, index, low, stack, onStack, out, counter);
                low.put(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.contains(w)) {
                low.put(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v).equals(index.get(v))) {
            List<String> component = new ArrayList<>();
            String w;
            do {
                w = stack.pop();
                onStack.remove(w);
                component.add(w);
            } while (!w.equals(v));
            if (component.size() > 1) {
                component.sort(null);
                out.add(component);
            }
        }
    }

    @Test
    void noTwoPackagesDependOnEachOtherEvenThroughOthers() throws IOException {
        Map<String, Set<String>> deps = dependencies();
        assertThat(deps).as("packages found under %s", MAIN).containsKeys("qwenchat.engine", "qwenchat.serving");
        List<List<String>> cycles = cycles(deps);
        StringBuilder why = new StringBuilder();
        for (List<String> c : cycles) {
            why.append("\n  cycle among ").append(c).append(':');
            for (String p : c) {
                Set<String> inCycle = new TreeSet<>(deps.get(p));
                inCycle.retainAll(c);
                why.append("\n    ").append(p).append(" -> ").append(inCycle);
            }
        }
        assertThat(cycles).as("package cycles:%s", why).isEmpty();
    }

    @Test
    void theCycleFinderSeesACycleThroughAThirdPackage() {
        Map<String, Set<String>> deps = new TreeMap<>();
        deps.put("a", Set.of("b"));
        deps.put("b", Set.of("c"));
        deps.put("c", Set.of("a"));
        deps.put("d", Set.of("a"));
        assertThat(cycles(deps)).containsExactly(List.of("a", "b", "c"));
    }
}

package qwenchat.build;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * No class of the app keeps state in a static field that can be reassigned: state lives in objects
 * handed over by constructors, so two engines, servers or tests in one JVM never see each other's.
 * Read from the compiled main classes (nested classes too), without initializing them.
 */
class NoStaticMutableStateTest {

    @Test
    void everyStaticFieldOfTheMainClassesIsFinal() throws IOException, URISyntaxException, ClassNotFoundException {
        Path root = Path.of(qwenchat.QwenChatApplication.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> mutable = new ArrayList<>();
        int classes = 0;
        try (Stream<Path> files = Files.walk(root.resolve("qwenchat"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".class")).toList()) {
                String name = root.relativize(f).toString().replace(f.getFileSystem().getSeparator(), ".");
                name = name.substring(0, name.length() - ".class".length());
                Class<?> c = Class.forName(name, false, getClass().getClassLoader());
                classes++;
                for (Field field : c.getDeclaredFields()) {
                    int m = field.getModifiers();
                    if (Modifier.isStatic(m) && !Modifier.isFinal(m) && !field.isSynthetic()) {
                        mutable.add(c.getName() + "." + field.getName());
                    }
                }
            }
        }
        assertThat(classes).as("main classes read").isGreaterThan(100);
        assertThat(mutable).as("static fields that can be reassigned").isEmpty();
    }
}

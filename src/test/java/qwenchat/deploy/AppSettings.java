package qwenchat.deploy;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/** The app's own port and actuator paths, read from its application.properties, and YAML helpers. */
final class AppSettings {

    final int port;
    final String actuatorBase;

    private AppSettings(int port, String actuatorBase) {
        this.port = port;
        this.actuatorBase = actuatorBase;
    }

    static AppSettings load() {
        Properties p = new Properties();
        try (InputStream in = AppSettings.class.getResourceAsStream("/application.properties")) {
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (!"true".equals(p.getProperty("management.endpoint.health.probes.enabled"))) {
            throw new IllegalStateException("application.properties no longer enables the health probes");
        }
        return new AppSettings(Integer.parseInt(p.getProperty("server.port")), p.getProperty("management.endpoints.web.base-path"));
    }

    /**
     * The {@code qwen.*} settings as the app binds them from these environment variables (relaxed
     * binding: {@code QWEN_KV_BLOCK_SIZE} is {@code qwen.kv-block-size}) over application.properties.
     */
    static qwenchat.serving.QwenProperties bindFromEnvironment(Map<String, Object> env) {
        Properties p = new Properties();
        try (InputStream in = AppSettings.class.getResourceAsStream("/application.properties")) {
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        org.springframework.core.env.StandardEnvironment environment = new org.springframework.core.env.StandardEnvironment();
        var sources = environment.getPropertySources();
        sources.remove(org.springframework.core.env.StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME);
        sources.remove(org.springframework.core.env.StandardEnvironment.SYSTEM_PROPERTIES_PROPERTY_SOURCE_NAME);
        sources.addFirst(new org.springframework.core.env.SystemEnvironmentPropertySource("env", env));
        sources.addLast(new org.springframework.core.env.PropertiesPropertySource("application.properties", p));
        return org.springframework.boot.context.properties.bind.Binder.get(environment)
                .bindOrCreate("qwen", qwenchat.serving.QwenProperties.class);
    }

    String readinessPath() {
        return actuatorBase + "/health/readiness";
    }

    String livenessPath() {
        return actuatorBase + "/health/liveness";
    }

    String prometheusPath() {
        return actuatorBase + "/prometheus";
    }

    static Path repoFile(String relative) {
        Path p = Path.of(relative);
        if (!Files.exists(p)) throw new IllegalStateException(p.toAbsolutePath() + " is missing");
        return p;
    }

    /** All documents of a YAML file or text. */
    static List<Map<String, Object>> yamlDocuments(String text) {
        List<Map<String, Object>> docs = new java.util.ArrayList<>();
        for (Object o : new Yaml(new LoaderOptions()).loadAll(text)) {
            if (o != null) docs.add(map(o));
        }
        return docs;
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object o) {
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object o) {
        return (List<Object>) o;
    }

    /** Follows a path of keys (and list indexes) through nested YAML. */
    static Object at(Object root, Object... path) {
        Object cur = root;
        for (Object key : path) {
            if (cur == null) return null;
            cur = key instanceof Integer i ? list(cur).get(i) : map(cur).get(key);
        }
        return cur;
    }
}

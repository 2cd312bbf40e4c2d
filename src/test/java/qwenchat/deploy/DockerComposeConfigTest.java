package qwenchat.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static qwenchat.deploy.AppSettings.at;
import static qwenchat.deploy.AppSettings.list;
import static qwenchat.deploy.AppSettings.map;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * docker-compose.yml as Compose itself reads it, with each Compose that is installed: the
 * {@code docker compose} CLI plugin (v2) and the standalone {@code docker-compose} (Debian's package,
 * v1, which .ci/run installs). {@code config} needs no daemon. docs/deployment.md names both forms.
 */
class DockerComposeConfigTest {

    private static final AppSettings app = AppSettings.load();
    private static final String NO_COMPOSE =
            "neither `docker compose` nor docker-compose is installed (apt-get install docker-compose; .ci/run does)";

    /** The command prefix of every installed Compose; one empty entry, reported skipped, when there is none. */
    static List<List<String>> composes() throws IOException, InterruptedException {
        List<List<String>> out = new java.util.ArrayList<>();
        if (succeeds(List.of("docker", "compose", "version"))) out.add(List.of("docker", "compose"));
        Stream.of("/usr/bin/docker-compose", "/usr/local/bin/docker-compose").map(Path::of)
                .filter(Files::isExecutable).findFirst().ifPresent(b -> out.add(List.of(b.toString())));
        if (out.isEmpty()) out.add(List.of());
        return out;
    }

    private static boolean succeeds(List<String> cmd) throws InterruptedException {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false; // no docker binary
        }
    }

    private static String composeConfig(List<String> compose, String... extra) throws IOException, InterruptedException {
        assumeTrue(!compose.isEmpty(), NO_COMPOSE);
        List<String> cmd = new java.util.ArrayList<>(compose);
        cmd.addAll(List.of("-f", "docker-compose.yml"));
        cmd.addAll(List.of(extra));
        cmd.add("config");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("MODEL_PATH", "/srv/models/Qwen2.5-7B-Instruct");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(String.join(" ", compose) + " config said:\n" + out).isZero();
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("composes")
    void composeAcceptsTheFileAndReservesAnNvidiaGpu(List<String> compose) throws Exception {
        Map<String, Object> cfg = AppSettings.yamlDocuments(composeConfig(compose)).get(0);
        Map<String, Object> svc = map(at(cfg, "services", "qwen-chat"));
        Map<String, Object> device = map(at(svc, "deploy", "resources", "reservations", "devices", 0));
        assertThat(device.get("driver")).isEqualTo("nvidia");
        assertThat(list(device.get("capabilities"))).contains("gpu");
        // Monitoring is opt-in: only the app runs without the profile.
        assertThat(svc.get("profiles")).isNull();
        assertThat(at(cfg, "services", "prometheus", "profiles")).isEqualTo(List.of("monitoring"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("composes")
    void appServicePublishesTheAppsPortAndChecksReadiness(List<String> compose) throws Exception {
        Map<String, Object> svc = map(at(AppSettings.yamlDocuments(composeConfig(compose)).get(0), "services", "qwen-chat"));
        String ports = String.valueOf(svc.get("ports"));
        assertThat(ports).contains("target=" + app.port).satisfiesAnyOf(
                s -> assertThat(s).contains(":" + app.port), s -> assertThat(s).contains("target=" + app.port));
        assertThat(String.valueOf(at(svc, "healthcheck", "test"))).contains("/opt/qwen-chat/healthcheck.sh");
        // The script the healthcheck runs asks the app's readiness group on its port.
        String script = AppSettings.read(Path.of("deploy/docker/healthcheck.sh"));
        assertThat(script).contains("GET " + app.readinessPath() + " ").contains("SERVER_PORT:-" + app.port);
        assertThat(AppSettings.read(Path.of("Dockerfile"))).contains("EXPOSE " + app.port).contains("SERVER_PORT=" + app.port);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("composes")
    void modelIsMountedReadOnlyAndDataAndCacheAreVolumes(List<String> compose) throws Exception {
        Map<String, Object> svc = map(at(AppSettings.yamlDocuments(composeConfig(compose)).get(0), "services", "qwen-chat"));
        String volumes = String.valueOf(svc.get("volumes"));
        assertThat(volumes).contains("/srv/models/Qwen2.5-7B-Instruct:/models:ro").contains(":/data").contains(":/cache");
        Map<String, Object> env = map(svc.get("environment"));
        assertThat(env).containsKeys("QWEN_MODEL_DIR", "QWEN_MODEL", "HF_ENDPOINT", "HF_TOKEN", "QWEN_ADMIN_TOKEN", "QWEN_API_KEYS");
        assertThat(env.get("QWEN_MODEL_DIR")).isEqualTo("/models");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("composes")
    void monitoringProfileScrapesThePrometheusEndpoint(List<String> compose) throws Exception {
        Map<String, Object> cfg = AppSettings.yamlDocuments(composeConfig(compose, "--profile", "monitoring")).get(0);
        assertThat(map(cfg.get("services")).keySet()).contains("qwen-chat", "prometheus", "grafana");
        Map<String, Object> prom = AppSettings.yamlDocuments(AppSettings.read(Path.of("deploy/prometheus/prometheus.yml"))).get(0);
        Map<String, Object> job = map(at(prom, "scrape_configs", 0));
        assertThat(job.get("metrics_path")).isEqualTo(app.prometheusPath());
        assertThat(at(job, "static_configs", 0, "targets", 0)).isEqualTo("qwen-chat:" + app.port);
    }
}

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
import org.junit.jupiter.api.Test;

/** docker-compose.yml as docker-compose itself reads it (Debian's docker-compose needs no daemon for config). */
class DockerComposeConfigTest {

    private static final AppSettings app = AppSettings.load();

    private static String composeConfig(String... extra) throws IOException, InterruptedException {
        Path binary = Stream.of("/usr/bin/docker-compose", "/usr/local/bin/docker-compose").map(Path::of)
                .filter(Files::isExecutable).findFirst().orElse(null);
        assumeTrue(binary != null, "docker-compose is not installed (apt-get install docker-compose; .ci/run does)");
        List<String> cmd = new java.util.ArrayList<>(List.of(binary.toString(), "-f", "docker-compose.yml"));
        cmd.addAll(List.of(extra));
        cmd.add("config");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("MODEL_PATH", "/srv/models/Qwen2.5-7B-Instruct");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("docker-compose config said:\n" + out).isZero();
        return out;
    }

    @Test
    void composeAcceptsTheFileAndReservesAnNvidiaGpu() throws Exception {
        Map<String, Object> cfg = AppSettings.yamlDocuments(composeConfig()).get(0);
        Map<String, Object> svc = map(at(cfg, "services", "qwen-chat"));
        Map<String, Object> device = map(at(svc, "deploy", "resources", "reservations", "devices", 0));
        assertThat(device.get("driver")).isEqualTo("nvidia");
        assertThat(list(device.get("capabilities"))).contains("gpu");
        // Monitoring is opt-in: only the app runs without the profile.
        assertThat(svc.get("profiles")).isNull();
        assertThat(at(cfg, "services", "prometheus", "profiles")).isEqualTo(List.of("monitoring"));
    }

    @Test
    void appServicePublishesTheAppsPortAndChecksReadiness() throws Exception {
        Map<String, Object> svc = map(at(AppSettings.yamlDocuments(composeConfig()).get(0), "services", "qwen-chat"));
        String ports = String.valueOf(svc.get("ports"));
        assertThat(ports).contains("target=" + app.port).satisfiesAnyOf(
                s -> assertThat(s).contains(":" + app.port), s -> assertThat(s).contains("target=" + app.port));
        assertThat(String.valueOf(at(svc, "healthcheck", "test"))).contains("/opt/qwen-chat/healthcheck.sh");
        // The script the healthcheck runs asks the app's readiness group on its port.
        String script = AppSettings.read(Path.of("deploy/docker/healthcheck.sh"));
        assertThat(script).contains("GET " + app.readinessPath() + " ").contains("SERVER_PORT:-" + app.port);
        assertThat(AppSettings.read(Path.of("Dockerfile"))).contains("EXPOSE " + app.port).contains("SERVER_PORT=" + app.port);
    }

    @Test
    void modelIsMountedReadOnlyAndDataAndCacheAreVolumes() throws Exception {
        Map<String, Object> svc = map(at(AppSettings.yamlDocuments(composeConfig()).get(0), "services", "qwen-chat"));
        String volumes = String.valueOf(svc.get("volumes"));
        assertThat(volumes).contains("/srv/models/Qwen2.5-7B-Instruct:/models:ro").contains(":/data").contains(":/cache");
        Map<String, Object> env = map(svc.get("environment"));
        assertThat(env).containsKeys("QWEN_MODEL_DIR", "QWEN_MODEL", "HF_ENDPOINT", "HF_TOKEN", "QWEN_ADMIN_TOKEN", "QWEN_API_KEYS");
        assertThat(env.get("QWEN_MODEL_DIR")).isEqualTo("/models");
    }

    @Test
    void monitoringProfileScrapesThePrometheusEndpoint() throws Exception {
        Map<String, Object> cfg = AppSettings.yamlDocuments(composeConfig("--profile", "monitoring")).get(0);
        assertThat(map(cfg.get("services")).keySet()).contains("qwen-chat", "prometheus", "grafana");
        Map<String, Object> prom = AppSettings.yamlDocuments(AppSettings.read(Path.of("deploy/prometheus/prometheus.yml"))).get(0);
        Map<String, Object> job = map(at(prom, "scrape_configs", 0));
        assertThat(job.get("metrics_path")).isEqualTo(app.prometheusPath());
        assertThat(at(job, "static_configs", 0, "targets", 0)).isEqualTo("qwen-chat:" + app.port);
    }
}

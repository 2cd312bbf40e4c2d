package qwenchat.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static qwenchat.deploy.AppSettings.at;
import static qwenchat.deploy.AppSettings.list;
import static qwenchat.deploy.AppSettings.map;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import qwenchat.serving.QwenProperties;

class KubernetesManifestsTest {

    private static final Path DIR = Path.of("deploy/kubernetes");
    private static final AppSettings app = AppSettings.load();
    private static final Map<String, Map<String, Object>> byKind = new HashMap<>();

    @BeforeAll
    static void parse() throws IOException {
        try (Stream<Path> s = Files.list(DIR)) {
            for (Path p : s.filter(f -> f.toString().endsWith(".yaml")).toList()) {
                for (Map<String, Object> doc : AppSettings.yamlDocuments(AppSettings.read(p))) {
                    byKind.put((String) doc.get("kind"), doc);
                }
            }
        }
    }

    private static Map<String, Object> container() {
        return map(at(byKind.get("Deployment"), "spec", "template", "spec", "containers", 0));
    }

    /** The container port a probe or Service names (by name or number). */
    private static int resolvePort(Object port) {
        if (port instanceof Integer i) return i;
        for (Object p : list(container().get("ports"))) {
            if (port.equals(map(p).get("name"))) return (Integer) map(p).get("containerPort");
        }
        throw new AssertionError("no container port named " + port);
    }

    @Test
    void everyManifestIsListedInTheKustomization() throws IOException {
        List<Object> resources = list(at(AppSettings.yamlDocuments(AppSettings.read(DIR.resolve("kustomization.yaml"))).get(0), "resources"));
        List<String> files = new ArrayList<>();
        try (Stream<Path> s = Files.list(DIR)) {
            s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yaml") && !n.equals("kustomization.yaml")).forEach(files::add);
        }
        assertThat(resources).containsExactlyInAnyOrderElementsOf(files);
        assertThat(byKind).containsKeys("Deployment", "Service", "PersistentVolumeClaim", "HorizontalPodAutoscaler", "ConfigMap");
    }

    @Test
    void probesUseTheAppsHealthGroupsOnItsPort() {
        Map<String, Object> c = container();
        assertThat(at(c, "readinessProbe", "httpGet", "path")).isEqualTo(app.readinessPath());
        assertThat(at(c, "livenessProbe", "httpGet", "path")).isEqualTo(app.livenessPath());
        assertThat(at(c, "startupProbe", "httpGet", "path")).isEqualTo(app.livenessPath());
        for (String probe : List.of("readinessProbe", "livenessProbe", "startupProbe")) {
            assertThat(resolvePort(at(c, probe, "httpGet", "port"))).as(probe).isEqualTo(app.port);
        }
        // The startup probe must outlast a long load: at least 5 minutes before liveness may kill the pod.
        int startupSeconds = (Integer) at(c, "startupProbe", "periodSeconds") * (Integer) at(c, "startupProbe", "failureThreshold");
        assertThat(startupSeconds).isGreaterThanOrEqualTo(300);
    }

    @Test
    void requestsOneGpuAndRunsAsTheImagesUser() {
        Map<String, Object> c = container();
        assertThat(at(c, "resources", "limits", "nvidia.com/gpu")).isEqualTo(1);
        assertThat(at(c, "resources", "requests", "nvidia.com/gpu")).isEqualTo(1);
        assertThat(at(byKind.get("Deployment"), "spec", "template", "spec", "securityContext", "runAsNonRoot")).isEqualTo(true);
        assertThat(AppSettings.read(Path.of("Dockerfile"))).contains("ARG APP_UID="
                + at(byKind.get("Deployment"), "spec", "template", "spec", "securityContext", "runAsUser"));
    }

    @Test
    void serviceAndScrapeAnnotationsPointAtTheApp() {
        Object target = at(byKind.get("Service"), "spec", "ports", 0, "targetPort");
        assertThat(resolvePort(target)).isEqualTo(app.port);
        Map<String, Object> annotations = map(at(byKind.get("Deployment"), "spec", "template", "metadata", "annotations"));
        assertThat(annotations.get("prometheus.io/path")).isEqualTo(app.prometheusPath());
        assertThat(annotations.get("prometheus.io/port")).isEqualTo(String.valueOf(app.port));
        assertThat(at(byKind.get("Service"), "spec", "sessionAffinity")).isNull();
    }

    @Test
    void modelCacheVolumeIsTheClaimAndTheDownloadCacheLivesOnIt() {
        Map<String, Object> pod = map(at(byKind.get("Deployment"), "spec", "template", "spec"));
        String claim = (String) at(byKind.get("PersistentVolumeClaim"), "metadata", "name");
        Object cacheVolume = list(pod.get("volumes")).stream().map(AppSettings::map)
                .filter(v -> v.get("persistentVolumeClaim") != null).findFirst().orElseThrow();
        assertThat(at(cacheVolume, "persistentVolumeClaim", "claimName")).isEqualTo(claim);
        String mount = list(container().get("volumeMounts")).stream().map(AppSettings::map)
                .filter(m -> m.get("name").equals(map(cacheVolume).get("name"))).map(m -> (String) m.get("mountPath"))
                .findFirst().orElseThrow();
        assertThat((String) at(byKind.get("ConfigMap"), "data", "QWEN_MODEL_CACHE")).startsWith(mount + "/");
    }

    @Test
    void kvCacheAndRopeSettingsInTheConfigMapBindToValidSettings() {
        Map<String, Object> data = map(at(byKind.get("ConfigMap"), "data"));
        Map<String, Object> env = new HashMap<>();
        for (String key : List.of("QWEN_GPU_MEMORY_UTILIZATION", "QWEN_KV_MAX_SEQUENCES", "QWEN_ROPE_SCALING")) {
            assertThat(data).as("ConfigMap data").containsKey(key);
            env.put(key, String.valueOf(data.get(key)));
        }
        QwenProperties p = AppSettings.bindFromEnvironment(env);
        assertThat(p.gpuMemoryUtilization()).isEqualTo(Double.parseDouble((String) data.get("QWEN_GPU_MEMORY_UTILIZATION")))
                .isBetween(0.05, 1.0);
        assertThat(p.kvMaxSequences()).isEqualTo(Integer.parseInt((String) data.get("QWEN_KV_MAX_SEQUENCES")));
        assertThat(p.ropeScaling()).isEqualTo(data.get("QWEN_ROPE_SCALING"));
        assertThat(qwenchat.model.RopeScalingSetting.parse(p.ropeScaling())).isNotNull();
    }

    @Test
    void autoscalerScalesTheDeploymentOnRunningRequests() {
        Map<String, Object> hpa = byKind.get("HorizontalPodAutoscaler");
        assertThat(at(hpa, "spec", "scaleTargetRef", "name")).isEqualTo(at(byKind.get("Deployment"), "metadata", "name"));
        assertThat(at(hpa, "spec", "metrics", 0, "pods", "metric", "name")).isEqualTo("vllm_num_requests_running");
    }
}

package qwenchat.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.images.builder.ImageFromDockerfile;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Builds the runtime image (target runtime-prebuilt) from this build's jar and a JRE jlinked here,
 * on a Debian base imported from packages (no registry needed), runs it with the demo checkpoint
 * and talks to it like a user: readiness 503 then 200, a chat over the WebSocket, a healthy
 * HEALTHCHECK, a non-root process. Runs in {@code ./mvnw verify} (failsafe, after the jar is
 * packaged) wherever a Docker engine answers; .ci/run starts one.
 */
@Tag("container")
@Timeout(value = 15, unit = TimeUnit.MINUTES)
class ContainerImageIT {

    static final String BASE_IMAGE = System.getProperty("qwenchat.it.base-image", "qwen-chat-base:bookworm");
    static final int PORT = 8080;

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static GenericContainer<?> app;
    private static final List<Integer> readinessCodes = new ArrayList<>();

    private static final String NO_DOCKER = "no Docker engine answers (install docker.io and start dockerd, as .ci/run does)";
    private static boolean dockerAvailable;

    @BeforeAll
    static void buildAndStart() throws Exception {
        // Without Docker each test reports itself skipped with the reason (an assumption failing
        // here would leave the class at "Tests run: 0" with no reason in the build log).
        dockerAvailable = DockerClientFactory.instance().isDockerAvailable();
        if (!dockerAvailable) {
            // Failsafe's summary counts skips but does not print why; this line puts the reason in the build log.
            System.out.println("[ContainerImageIT] skipping all tests: " + NO_DOCKER);
            return;
        }
        Path root = Path.of("").toAbsolutePath();
        Path jar = root.resolve("target/qwen-chat.jar");
        assertThat(jar).as("the packaged jar (failsafe runs after package)").exists();
        if (!imageExists(BASE_IMAGE)) run(root, List.of("deploy/docker/build-base-image.sh", BASE_IMAGE));
        // A JRE from the JDK running this test; the jar is built for Java 21, any newer JDK runs it.
        run(root, List.of("env", "JAVA_HOME=" + System.getProperty("java.home"), "deploy/docker/prepare-prebuilt.sh",
                jar.toString(), root.resolve("target/docker").toString()));

        // Only what the prebuilt target copies goes into the context. (withDockerfile would also try to
        // pull every FROM image first, from a registry these machines cannot reach.)
        ImageFromDockerfile image = new ImageFromDockerfile("qwen-chat-it:prebuilt", false)
                .withFileFromPath("Dockerfile", root.resolve("Dockerfile"))
                .withFileFromPath("deploy/docker/healthcheck.sh", root.resolve("deploy/docker/healthcheck.sh"))
                .withFileFromPath("target/docker", root.resolve("target/docker"))
                .withTarget("runtime-prebuilt")
                .withBuildArg("RUNTIME_BASE", BASE_IMAGE);
        app = new GenericContainer<>(image)
                .withExposedPorts(PORT)
                .withEnv("QWEN_CPU_THREADS", "2")
                // Started, not ready: the model loads in the background, which is what we watch.
                .waitingFor(Wait.forLogMessage(".*Started QwenChatApplication.*", 1)
                        .withStartupTimeout(Duration.ofMinutes(3)));
        app.start();
        pollReadinessUntilReady(Duration.ofMinutes(5));
    }

    @BeforeEach
    void needsADockerEngine() {
        assumeTrue(dockerAvailable, NO_DOCKER);
    }

    @AfterAll
    static void stop() {
        if (app != null) app.stop();
    }

    private static void pollReadinessUntilReady(Duration limit) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        URI uri = URI.create(baseUrl() + "/actuator/health/readiness");
        long end = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < end) {
            int code;
            try {
                code = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode();
            } catch (IOException e) {
                code = -1;   // the mapped port is open before the app listens
            }
            if (code > 0 && (readinessCodes.isEmpty() || readinessCodes.get(readinessCodes.size() - 1) != code)) {
                readinessCodes.add(code);
            }
            if (code == 200) return;
            Thread.sleep(25);
        }
        throw new TimeoutException("readiness never turned 200 within " + limit + "; codes seen " + readinessCodes
                + "; log:\n" + app.getLogs());
    }

    private static String baseUrl() {
        return "http://" + app.getHost() + ":" + app.getMappedPort(PORT);
    }

    @Test
    void readinessIs503WhileTheModelLoadsThen200() {
        assertThat(readinessCodes).containsExactly(503, 200);
    }

    @Test
    void chatsOverTheWebSocketOnTheMappedPort() throws Exception {
        List<JsonNode> first = chat("c1", 6);
        JsonNode status = first.get(0);
        assertThat(status.path("type").asString()).isEqualTo("status");
        assertThat(status.path("state").asString()).isEqualTo("READY");
        assertThat(status.path("model").path("demo").asBoolean()).isTrue();

        JsonNode start = byType(first, "start").get(0);
        JsonNode done = byType(first, "done").get(0);
        assertThat(start.path("id").asString()).isEqualTo("c1");
        assertThat(start.path("maxTokens").asInt()).isEqualTo(6);
        int completion = done.path("usage").path("completionTokens").asInt();
        assertThat(completion).isBetween(1, 6);
        assertThat(done.path("usage").path("promptTokens").asInt()).isEqualTo(start.path("promptTokens").asInt());
        assertThat(done.path("usage").path("totalTokens").asInt()).isEqualTo(start.path("promptTokens").asInt() + completion);
        assertThat(done.path("finishReason").asString()).isIn("stop", "length");

        // Same seed, same reply: the container serves a deterministic engine.
        assertThat(text(chat("c2", 6))).isEqualTo(text(first));
    }

    @Test
    void runsAsNonRootAndTheHealthcheckTurnsHealthy() throws Exception {
        var id = app.execInContainer("id", "-u");
        assertThat(id.getStdout().trim()).isNotEqualTo("0").isEqualTo("10001");
        // Writable for that user: /tmp (JCuda unpacks natives there), the data and cache volumes.
        var touch = app.execInContainer("bash", "-c", "touch /tmp/w /data/w /cache/w && ls /cache/demo-v1/config.json");
        assertThat(touch.getExitCode()).as(touch.getStderr()).isZero();

        var inspect = DockerClientFactory.instance().client();
        long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        String health = null;
        while (System.nanoTime() < end) {
            health = inspect.inspectContainerCmd(app.getContainerId()).exec().getState().getHealth().getStatus();
            if ("healthy".equals(health)) break;
            Thread.sleep(1000);
        }
        assertThat(health).isEqualTo("healthy");
    }

    private List<JsonNode> chat(String id, int maxTokens) throws Exception {
        LinkedBlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
        WebSocket ws = HttpClient.newHttpClient().newWebSocketBuilder()
                .buildAsync(URI.create("ws://" + app.getHost() + ":" + app.getMappedPort(PORT) + "/ws/chat"),
                        new WebSocket.Listener() {
                            private final StringBuilder partial = new StringBuilder();

                            @Override
                            public CompletionStage<?> onText(WebSocket s, CharSequence data, boolean last) {
                                partial.append(data);
                                if (last) {
                                    frames.add(JSON.readTree(partial.toString()));
                                    partial.setLength(0);
                                }
                                s.request(1);
                                return CompletableFuture.completedFuture(null);
                            }
                        })
                .get(30, TimeUnit.SECONDS);
        List<JsonNode> got = new ArrayList<>();
        got.add(frames.poll(30, TimeUnit.SECONDS));   // the status frame comes on connect
        ws.sendText("{\"type\":\"chat\",\"id\":\"" + id + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello from the container test\"}],"
                + "\"params\":{\"seed\":42,\"temperature\":0.8,\"maxTokens\":" + maxTokens + "}}", true).get(10, TimeUnit.SECONDS);
        while (true) {
            JsonNode f = frames.poll(120, TimeUnit.SECONDS);
            assertThat(f).as("a frame within 120 s; so far " + got).isNotNull();
            got.add(f);
            String type = f.path("type").asString();
            assertThat(type).as("no error frame: " + f).isNotEqualTo("error");
            if (type.equals("done")) break;
        }
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(10, TimeUnit.SECONDS);
        return got;
    }

    private static List<JsonNode> byType(List<JsonNode> frames, String type) {
        return frames.stream().filter(f -> f.path("type").asString().equals(type)).toList();
    }

    private static String text(List<JsonNode> frames) {
        StringBuilder b = new StringBuilder();
        for (JsonNode d : byType(frames, "delta")) b.append(d.path("text").asString());
        return b.toString();
    }

    private static boolean imageExists(String name) {
        try {
            DockerClientFactory.instance().client().inspectImageCmd(name).exec();
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static void run(Path dir, List<String> command) throws IOException, InterruptedException {
        Path log = Files.createTempFile("qwen-chat-it", ".log");
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException(command + " ran over 10 minutes; output:\n" + Files.readString(log));
        }
        String out = Files.readString(log);
        Files.deleteIfExists(log);
        if (p.exitValue() != 0) throw new IllegalStateException(command + " failed (" + p.exitValue() + "):\n" + out);
    }
}

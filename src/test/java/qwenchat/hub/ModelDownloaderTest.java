package qwenchat.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class ModelDownloaderTest {

    private static final String REPO = "Qwen/Qwen2.5-Tiny-Instruct";

    @TempDir
    Path cache;

    private FakeHub hub;
    private byte[] weights;

    @BeforeEach
    void startHub() throws IOException {
        hub = new FakeHub(REPO);
        weights = new byte[300_000];
        new Random(7).nextBytes(weights);
        hub.file("config.json", "{\"model_type\":\"qwen2\"}")
                .file("generation_config.json", "{\"do_sample\":true}")
                .file("tokenizer.json", "{\"model\":{}}")
                .file("tokenizer_config.json", "{\"chat_template\":\"x\"}")
                .file("README.md", "not needed");
    }

    @AfterEach
    void stopHub() {
        hub.close();
    }

    private HubProperties settings(String endpoint, String token) {
        return new HubProperties(REPO, "main", URI.create(endpoint), token, cache.toString(), Duration.ofSeconds(5), 2);
    }

    private List<long[]> progress = new ArrayList<>();

    private Path fetch(HubProperties s) {
        return new ModelDownloader(s).fetch((file, done, total) -> progress.add(new long[] {done, total}));
    }

    @Test
    void downloadsEveryFileOfASingleFileModelAndVerifiesIt() throws IOException {
        hub.file("model.safetensors", weights, true);

        Path dir = fetch(settings(hub.endpoint(), null));

        assertThat(dir).isEqualTo(cache.resolve("Qwen--Qwen2.5-Tiny-Instruct").resolve("main"));
        assertThat(Files.readAllBytes(dir.resolve("model.safetensors"))).isEqualTo(weights);
        assertThat(Files.readString(dir.resolve("config.json"))).isEqualTo("{\"model_type\":\"qwen2\"}");
        assertThat(dir.resolve("tokenizer_config.json")).exists();
        assertThat(dir.resolve("README.md")).doesNotExist();
        assertThat(leftovers(dir)).isEmpty();
        long expectedTotal = weights.length + Stream.of("config.json", "generation_config.json", "tokenizer.json",
                "tokenizer_config.json").mapToLong(f -> size(dir.resolve(f))).sum();
        long[] last = progress.get(progress.size() - 1);
        assertThat(last).containsExactly(expectedTotal, expectedTotal);
        // The weights came through the hub's redirect, as from the real hub's CDN.
        assertThat(hub.requests).contains("GET /cdn/model.safetensors");

        // A second start finds the complete marker and asks the hub nothing.
        int before = hub.requests.size();
        assertThat(fetch(settings(hub.endpoint(), null))).isEqualTo(dir);
        assertThat(hub.requests).hasSize(before);
    }

    @Test
    void downloadsTheShardsTheIndexNames() throws IOException {
        byte[] a = Arrays.copyOfRange(weights, 0, 100_000);
        byte[] b = Arrays.copyOfRange(weights, 100_000, 300_000);
        String index = "{\"metadata\":{\"total_size\":300000},\"weight_map\":{\"x.weight\":\"model-00001-of-00002.safetensors\","
                + "\"y.weight\":\"model-00002-of-00002.safetensors\",\"z.weight\":\"model-00001-of-00002.safetensors\"}}";
        hub.file("model.safetensors.index.json", index.getBytes(StandardCharsets.UTF_8), false)
                .file("model-00001-of-00002.safetensors", a, true)
                .file("model-00002-of-00002.safetensors", b, true);

        Path dir = fetch(settings(hub.endpoint(), null));

        assertThat(Files.readAllBytes(dir.resolve("model-00001-of-00002.safetensors"))).isEqualTo(a);
        assertThat(Files.readAllBytes(dir.resolve("model-00002-of-00002.safetensors"))).isEqualTo(b);
        assertThat(Files.readString(dir.resolve("model.safetensors.index.json"))).isEqualTo(index);
        assertThat(dir.resolve(".complete")).exists();
        assertThat(leftovers(dir)).isEmpty();
    }

    @Test
    void resumesWithARangeRequestAfterTheConnectionDrops() throws IOException {
        hub.file("model.safetensors", weights, true);
        hub.cutFile = "model.safetensors";
        hub.cutAfter = 120_000;

        Path dir = fetch(settings(hub.endpoint(), null));

        assertThat(hub.cutsDone()).isEqualTo(1);
        // Resumed from what arrived before the cut (the kernel may drop some of the bytes sent in flight).
        long resumedFrom = hub.requests.stream().filter(r -> r.startsWith("GET /cdn/model.safetensors bytes="))
                .mapToLong(r -> Long.parseLong(r.substring(r.indexOf('=') + 1, r.length() - 1))).findFirst().orElse(-1);
        assertThat(resumedFrom).isPositive().isLessThanOrEqualTo(120_000);
        assertThat(Files.readAllBytes(dir.resolve("model.safetensors"))).isEqualTo(weights);
        assertThat(leftovers(dir)).isEmpty();
        // Progress never counts the resumed bytes twice.
        long[] last = progress.get(progress.size() - 1);
        assertThat(last[0]).isEqualTo(last[1]);
    }

    @Test
    void resumesAPartFileLeftByAnEarlierRun() throws IOException {
        hub.file("model.safetensors", weights, true);
        Path dir = cache.resolve("Qwen--Qwen2.5-Tiny-Instruct").resolve("main");
        Files.createDirectories(dir);
        Files.write(dir.resolve("model.safetensors.part"), Arrays.copyOf(weights, 50_000));

        fetch(settings(hub.endpoint(), null));

        assertThat(hub.requests).contains("GET /cdn/model.safetensors bytes=50000-");
        assertThat(Files.readAllBytes(dir.resolve("model.safetensors"))).isEqualTo(weights);
    }

    @Test
    void checksumMismatchFailsAndLeavesNoFileAsComplete() {
        hub.file("model.safetensors", weights, true);
        hub.advertiseSha256("model.safetensors", "ab".repeat(32));
        Path dir = cache.resolve("Qwen--Qwen2.5-Tiny-Instruct").resolve("main");

        assertThatThrownBy(() -> fetch(settings(hub.endpoint(), null)))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("checksum mismatch for model.safetensors")
                .hasMessageContaining(hub.endpoint() + "/" + REPO + "/resolve/main/model.safetensors")
                .hasMessageContaining("expected sha256 " + "ab".repeat(32))
                .hasMessageContaining("got " + FakeHub.sha256(weights));
        assertThat(dir.resolve("model.safetensors")).doesNotExist();
        assertThat(dir.resolve("model.safetensors.part")).doesNotExist();
        assertThat(dir.resolve(".complete")).doesNotExist();
    }

    @Test
    void missingTokenIsNamedOn401() {
        hub.file("model.safetensors", weights, true);
        hub.requiredToken = "hf_secret";

        assertThatThrownBy(() -> fetch(settings(hub.endpoint(), null)))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("HTTP 401 from " + hub.endpoint() + "/api/models/" + REPO + "/revision/main")
                .hasMessageContaining("HF_TOKEN is missing");
    }

    @Test
    void wrongTokenIsNamedOn401AndTheRightOneIsSentAsBearer() throws IOException {
        hub.file("model.safetensors", weights, true);
        hub.requiredToken = "hf_secret";

        assertThatThrownBy(() -> fetch(settings(hub.endpoint(), "hf_wrong")))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("HTTP 401")
                .hasMessageContaining("rejected HF_TOKEN");

        Path dir = fetch(settings(hub.endpoint(), "hf_secret"));
        assertThat(Files.readAllBytes(dir.resolve("model.safetensors"))).isEqualTo(weights);
        assertThat(hub.requests).contains("GET /api/models/" + REPO + "/revision/main Bearer hf_secret");
    }

    @Test
    void unknownRepositoryIsNamedOn404() {
        HubProperties s = new HubProperties("Qwen/No-Such-Model", "main", URI.create(hub.endpoint()), null,
                cache.toString(), Duration.ofSeconds(5), 2);

        assertThatThrownBy(() -> new ModelDownloader(s).fetch(DownloadProgress.NONE))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("HTTP 404 from " + hub.endpoint() + "/api/models/Qwen/No-Such-Model/revision/main")
                .hasMessageContaining("Qwen/No-Such-Model");
    }

    @Test
    void fileTheHubCannotServeIsNamedOn404() {
        hub.file("model.safetensors", weights, true);
        hub.unservable.add("tokenizer.json");

        assertThatThrownBy(() -> fetch(settings(hub.endpoint(), null)))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("HTTP 404 from " + hub.endpoint() + "/" + REPO + "/resolve/main/tokenizer.json")
                .hasMessageContaining("file tokenizer.json not found in " + REPO);
    }

    @Test
    void repositoryWithoutWeightsIsRefusedNamingItsFiles() {
        assertThatThrownBy(() -> fetch(settings(hub.endpoint(), null)))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("has neither model.safetensors nor model.safetensors.index.json")
                .hasMessageContaining("README.md");
    }

    @Test
    void offlineHubIsNamedByItsUrl() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String endpoint = "http://127.0.0.1:" + port;

        assertThatThrownBy(() -> fetch(settings(endpoint, null)))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("cannot fetch the file list of " + REPO + " from " + endpoint + "/api/models/" + REPO)
                .hasMessageContaining("connection refused")
                .hasMessageContaining("QWEN_MODEL_DIR");
        assertThat(cache.resolve("Qwen--Qwen2.5-Tiny-Instruct").resolve("main").resolve(".complete")).doesNotExist();
    }

    private HubProperties stallSettings(Duration readTimeout) {
        return new HubProperties(REPO, "main", URI.create(hub.endpoint()), null, cache.toString(), Duration.ofSeconds(5),
                readTimeout, 2);
    }

    @Test
    void resumesWithARangeRequestAfterTheBodyStallsWithTheSocketOpen() throws IOException {
        hub.file("model.safetensors", weights, true);
        hub.stallFile = "model.safetensors";
        hub.stallAt = 150_000;
        hub.stallTimes = 1;

        long start = System.nanoTime();
        Path dir = fetch(stallSettings(Duration.ofMillis(300)));
        long millis = (System.nanoTime() - start) / 1_000_000;

        assertThat(hub.stallsDone()).isEqualTo(1);
        // The bytes that arrived before the stall stayed in the part file: the resume starts exactly there.
        assertThat(hub.requests.stream().filter(r -> r.startsWith("GET /cdn/model.safetensors")))
                .containsExactly("GET /cdn/model.safetensors", "GET /cdn/model.safetensors bytes=150000-");
        assertThat(Files.readAllBytes(dir.resolve("model.safetensors"))).isEqualTo(weights);
        assertThat(dir.resolve(".complete")).exists();
        assertThat(leftovers(dir)).isEmpty();
        long[] last = progress.get(progress.size() - 1);
        assertThat(last[0]).isEqualTo(last[1]);
        // One idle window plus the first backoff, not a hang.
        assertThat(millis).isLessThan(5_000);
        assertNoWatchdogThreadLeft();
    }

    @Test
    void bodyThatAlwaysStallsFailsNamingUrlFileBytesAndTimeout() throws IOException {
        hub.file("model.safetensors", weights, true);
        hub.stallFile = "model.safetensors";
        hub.stallAt = 100_000;
        hub.stallTimes = Integer.MAX_VALUE;
        Path dir = cache.resolve("Qwen--Qwen2.5-Tiny-Instruct").resolve("main");

        long start = System.nanoTime();
        assertThatThrownBy(() -> fetch(stallSettings(Duration.ofMillis(300))))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("cannot fetch file model.safetensors")
                .hasMessageContaining(hub.endpoint() + "/" + REPO + "/resolve/main/model.safetensors")
                .hasMessageContaining("gave up after 3 attempts with 100000 of 300000 bytes in " + dir.resolve("model.safetensors.part"))
                .hasMessageContaining("the transfer stalled: no data for 300 ms")
                .hasMessageContaining("QWEN_HUB_READ_TIMEOUT");
        long millis = (System.nanoTime() - start) / 1_000_000;

        // Three idle windows and two backoffs (250 + 500 ms).
        assertThat(millis).isBetween(3 * 300L + 750, 8_000L);
        assertThat(hub.stallsDone()).isEqualTo(3);
        assertThat(dir.resolve("model.safetensors")).doesNotExist();
        assertThat(dir.resolve(".complete")).doesNotExist();
        assertThat(Files.readAllBytes(dir.resolve("model.safetensors.part"))).isEqualTo(Arrays.copyOf(weights, 100_000));
        assertNoWatchdogThreadLeft();
    }

    @Test
    void listingWhoseBodyStallsFailsNamingTheListingUrlAndTimeout() {
        hub.file("model.safetensors", weights, true);
        hub.stallListing = true;

        long start = System.nanoTime();
        assertThatThrownBy(() -> fetch(stallSettings(Duration.ofMillis(300))))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("cannot fetch the file list of " + REPO + " from " + hub.endpoint() + "/api/models/" + REPO)
                .hasMessageContaining("no data for 300 ms");
        assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(5_000);
        assertNoWatchdogThreadLeft();
    }

    @Test
    void listingWhoseHeadersNeverComeFailsWithinTheRequestTimeout() {
        hub.file("model.safetensors", weights, true);
        hub.stallListingHeaders = true;
        HubProperties s = new HubProperties(REPO, "main", URI.create(hub.endpoint()), null, cache.toString(),
                Duration.ofMillis(300), Duration.ofSeconds(30), 2);

        long start = System.nanoTime();
        assertThatThrownBy(() -> fetch(s))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("cannot fetch the file list of " + REPO + " from " + hub.endpoint() + "/api/models/" + REPO)
                .hasMessageContaining("no answer within 300 ms");
        assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(5_000);
    }

    private static void assertNoWatchdogThreadLeft() {
        // shutdownNow ends the watchdog thread asynchronously; give it a moment.
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (watchdogThreads() > 0 && System.nanoTime() < deadline) Thread.onSpinWait();
        assertThat(watchdogThreads()).isZero();
    }

    private static long watchdogThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("hub-read-watchdog") && t.isAlive()).count();
    }

    private static List<Path> leftovers(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".part")).toList();
        }
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}

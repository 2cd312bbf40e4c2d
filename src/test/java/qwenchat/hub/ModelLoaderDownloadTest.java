package qwenchat.hub;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import qwenchat.demo.DemoCheckpoint;
import qwenchat.engine.cpu.CpuEngine;
import qwenchat.engine.cpu.CpuEngineOptions;
import qwenchat.serving.LoadWait;
import qwenchat.serving.EngineFactory;
import qwenchat.serving.LoadStage;
import qwenchat.serving.LoadState;
import qwenchat.serving.LoadStatus;
import qwenchat.serving.ModelLoader;
import qwenchat.serving.QwenProperties;
import qwenchat.serving.StageTiming;

/** The readiness gate with QWEN_MODEL set: the download is its first stage, then the usual load. */
@Timeout(120)
class ModelLoaderDownloadTest {

    private static final String REPO = "Qwen/Qwen2.5-Demo";
    private static final EngineFactory CPU = (config, checkpoint, capacity, progress) ->
            CpuEngine.load(config, checkpoint, capacity, CpuEngineOptions.defaults().withProgress(progress).withThreads(2));

    @TempDir
    Path tmp;

    private ModelLoader loader;
    private final List<LoadStatus> published = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        if (loader != null) loader.stop();
    }

    private static QwenProperties noModelDir() {
        return new QwenProperties(null, null, "cpu", 2, 256, 4, Duration.ofMinutes(1), 2, List.of(), 1 << 20);
    }

    private HubProperties hub(String endpoint) {
        return new HubProperties(REPO, "main", URI.create(endpoint), null, tmp.resolve("cache").toString(), Duration.ofSeconds(5), 1);
    }

    private LoadStatus loadWith(HubProperties hub) throws InterruptedException {
        loader = new ModelLoader(noModelDir(), CPU, hub);
        loader.onStatus(published::add);
        assertThat(loader.status().stage()).isEqualTo(LoadStage.DOWNLOAD_MODEL);
        assertThat(loader.status().modelName()).isEqualTo(REPO);
        loader.start();
        LoadWait.settled(loader, Duration.ofSeconds(100));
        return loader.status();
    }

    @Test
    void downloadsTheModelAsTheFirstStageThenLoadsIt() throws Exception {
        Path demo = DemoCheckpoint.ensure(tmp.resolve("demo")).dir();
        long total = 0;
        try (FakeHub server = new FakeHub(REPO); Stream<Path> files = Files.list(demo)) {
            for (Path f : files.toList()) {
                String name = f.getFileName().toString();
                server.file(name, Files.readAllBytes(f), name.endsWith(".safetensors"));
                if (ModelDownloader.METADATA.contains(name) || name.equals(ModelDownloader.SINGLE)) total += Files.size(f);
            }

            LoadStatus s = loadWith(hub(server.endpoint()));

            assertThat(s.state()).as("error: " + s.error()).isEqualTo(LoadState.READY);
            assertThat(s.stages()).extracting(StageTiming::stage).containsExactly(LoadStage.DOWNLOAD_MODEL,
                    LoadStage.RESOLVE_MODEL, LoadStage.VALIDATE_FILES, LoadStage.LOAD_WEIGHTS, LoadStage.WARM_UP,
                    LoadStage.SELF_CHECK);
            Path downloaded = tmp.resolve("cache").resolve("Qwen--Qwen2.5-Demo").resolve("main");
            assertThat(Files.readAllBytes(downloaded.resolve("model.safetensors")))
                    .isEqualTo(Files.readAllBytes(demo.resolve("model.safetensors")));
            assertThat(loader.served().orElseThrow().sourceDirectory()).isEqualTo(downloaded.toAbsolutePath().toString());
            // The download stage reported its bytes and percent; the weights stage counted its own bytes after it.
            long expectedTotal = total;
            LoadStatus lastDownload = published.stream().filter(p -> p.stage() == LoadStage.DOWNLOAD_MODEL)
                    .reduce((a, b) -> b).orElseThrow();
            assertThat(lastDownload.bytesDone()).isEqualTo(expectedTotal);
            assertThat(lastDownload.bytesTotal()).isEqualTo(expectedTotal);
            assertThat(lastDownload.percent()).isEqualTo(100.0);
            LoadStatus resolve = published.stream().filter(p -> p.stage() == LoadStage.RESOLVE_MODEL).findFirst().orElseThrow();
            assertThat(resolve.bytesTotal()).isZero();
        }
    }

    @Test
    void unreachableHubFailsTheDownloadStageNamingTheUrl() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }

        LoadStatus s = loadWith(hub("http://127.0.0.1:" + port));

        assertThat(s.state()).isEqualTo(LoadState.FAILED);
        assertThat(s.stage()).isEqualTo(LoadStage.DOWNLOAD_MODEL);
        assertThat(s.error()).contains("http://127.0.0.1:" + port + "/api/models/" + REPO).contains("connection refused");
        assertThat(loader.served()).isEmpty();
    }
}

package qwenchat.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import qwenchat.presets.PresetStore;
import qwenchat.serving.Http;
import qwenchat.web.FakeServing;
import tools.jackson.databind.JsonNode;

/** A truncated presets.json no longer stops the server: it starts, serves the built-ins and the dashboard says why. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {FakeServing.NO_REAL_MODEL,
        "qwen.admin.token=" + CorruptPresetsFileTest.TOKEN})
@Import(FakeServing.class)
class CorruptPresetsFileTest {

    static final String TOKEN = "corrupt-presets-admin-token";
    static Path dataDir;

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry r) throws Exception {
        dataDir = Files.createTempDirectory("qwen-corrupt-presets");
        Files.writeString(dataDir.resolve(PresetStore.FILE_NAME), "{\"version\":1,\"presets\":[{\"id\":\"mine\",\"na");
        r.add("qwen.data-dir", dataDir::toString);
    }

    @LocalServerPort
    int port;

    @Test
    void theServerStartsServesTheBuiltinsAndTheDashboardNamesTheFileSetAside() throws Exception {
        Http http = new Http(port);
        Http.Reply presets = http.get("/api/presets");
        assertThat(presets.status()).isEqualTo(200);
        assertThat(presets.json()).isNotEmpty();
        for (JsonNode p : presets.json()) assertThat(p.path("builtin").asBoolean()).isTrue();

        Http.Reply overview = http.send(HttpRequest.newBuilder(http.uri("/admin/api/overview"))
                .header("Authorization", "Bearer " + TOKEN).GET());
        assertThat(overview.status()).isEqualTo(200);
        String problem = overview.json().at("/presets/problem").asString();
        assertThat(problem).startsWith("presets.json was unreadable (").contains("moved to presets.json.corrupt-")
                .doesNotContain(dataDir.toString());
        List<Path> aside;
        try (var files = Files.list(dataDir)) {
            aside = files.filter(f -> f.getFileName().toString().startsWith("presets.json.corrupt-")).toList();
        }
        assertThat(aside).hasSize(1);
        assertThat(problem).contains(aside.get(0).getFileName().toString());
    }
}

package qwenchat.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import qwenchat.model.ModelConfig;
import qwenchat.serving.Http;
import qwenchat.serving.LoadWait;
import qwenchat.serving.ModelRuntime;
import tools.jackson.databind.JsonNode;

/** The bias lab's API on the demo model: the admin token guards it, and a run reports both passes. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo-v1", "qwen.cpu-threads=2", "qwen.kv-max-sequences=4",
        "qwen.admin.token=" + LabApiTest.TOKEN})
class LabApiTest {

    static final String TOKEN = "Lab-test-Token-91c2";
    static final String RUN = "{\"prompt\":\"Say hello\",\"projections\":\"k\",\"fromLayer\":0,\"toLayer\":%d,\"maxTokens\":6}";

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry r) throws Exception {
        String dir = Files.createTempDirectory("qwen-lab-api").toString();
        r.add("qwen.data-dir", () -> dir);
    }

    @LocalServerPort
    int port;
    @Autowired
    ModelRuntime runtime;

    Http http;

    @BeforeEach
    void awaitModel() throws InterruptedException {
        LoadWait.ready(runtime);
        http = new Http(port);
    }

    private Http.Reply send(String method, String path, String token, String json) {
        HttpRequest.Builder b = HttpRequest.newBuilder(http.uri(path)).header("Content-Type", "application/json")
                .method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
        if (token != null) b.header("Authorization", "Bearer " + token);
        return http.send(b);
    }

    private ModelConfig config() {
        return runtime.served().orElseThrow().config();
    }

    @Test
    void withoutTheExactAdminTokenTheLabApiAnswersNothingButAChallenge() {
        String run = RUN.formatted(config().numHiddenLayers() - 1);
        for (String token : new String[] {null, "wrong", TOKEN.toLowerCase()}) {
            for (Http.Reply r : List.of(send("GET", "/lab/api/model", token, null), send("POST", "/lab/api/runs", token, run),
                    send("GET", "/lab/api/runs/some-id/json", token, null),
                    send("GET", "/lab/api/runs/some-id/csv", token, null))) {
                assertThat(r.status()).as(r.body()).isEqualTo(401);
                assertThat(r.raw().headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
                assertThat(r.body()).doesNotContain("layers", "logitLensKl", "demo");
            }
        }
    }

    @Test
    void thePageIsAShellWithASignInFormAndNoData() {
        Http.Reply page = send("GET", "/lab", null, null);
        assertThat(page.status()).isEqualTo(200);
        assertThat(page.body()).contains("id=\"login-form\"", "/lab.js").doesNotContain(runtime.served().orElseThrow().name());
    }

    @Test
    void aRunReportsBothContinuationsAndEveryMeasurementAndExportsThem() {
        ModelConfig c = config();
        int layers = c.numHiddenLayers();
        int heads = c.numAttentionHeads();
        Http.Reply r = send("POST", "/lab/api/runs", TOKEN, RUN.formatted(layers - 1));
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.raw().headers().firstValue("Cache-Control")).hasValueSatisfying(v -> assertThat(v).contains("no-store"));
        JsonNode j = r.json();
        assertThat(j.path("demoWeights").asBoolean()).isTrue();
        assertThat(j.path("layers").asInt()).isEqualTo(layers);
        assertThat(j.path("heads").asInt()).isEqualTo(heads);
        assertThat(j.path("live").path("tokens").size()).isBetween(1, 6);
        assertThat(j.path("ablated").path("tokens").size()).isBetween(1, 6);
        assertThat(j.path("logitLensKl").size()).isEqualTo(layers);
        for (JsonNode kl : j.path("logitLensKl")) assertThat(kl.asDouble()).isGreaterThanOrEqualTo(0);
        // Every layer's k bias is gone in the ablated run, so the final distributions differ.
        assertThat(j.path("logitLensKl").get(layers - 1).asDouble()).isPositive();
        for (String run : List.of("live", "ablated")) {
            JsonNode sink = j.path("sinkMass").path(run);
            JsonNode entropy = j.path("attentionEntropy").path(run);
            assertThat(sink.size()).isEqualTo(layers);
            assertThat(entropy.size()).isEqualTo(layers);
            for (int l = 0; l < layers; l++) {
                assertThat(sink.get(l).size()).isEqualTo(heads);
                for (int h = 0; h < heads; h++) {
                    assertThat(sink.get(l).get(h).asDouble()).isBetween(0.0, 1.0);
                    assertThat(entropy.get(l).get(h).asDouble())
                            .isBetween(0.0, Math.log(j.path("promptTokens").asInt()) + 1e-4);
                }
            }
        }
        String id = j.path("id").asString();
        Http.Reply json = send("GET", "/lab/api/runs/" + id + "/json", TOKEN, null);
        assertThat(json.status()).isEqualTo(200);
        assertThat(json.raw().headers().firstValue("Content-Disposition")).hasValueSatisfying(
                v -> assertThat(v).contains("attachment", "bias-lab-" + id + ".json"));
        assertThat(json.raw().headers().firstValue("Cache-Control")).hasValueSatisfying(v -> assertThat(v).contains("no-store"));
        assertThat(json.json().path("logitLensKl")).isEqualTo(j.path("logitLensKl"));
        Http.Reply csv = send("GET", "/lab/api/runs/" + id + "/csv", TOKEN, null);
        assertThat(csv.status()).isEqualTo(200);
        assertThat(csv.raw().headers().firstValue("Cache-Control")).hasValueSatisfying(v -> assertThat(v).contains("no-store"));
        List<String> lines = csv.body().lines().toList();
        assertThat(lines.getFirst()).isEqualTo(
                "layer,head,kl_live_ablated,entropy_live,entropy_ablated,sink_mass_live,sink_mass_ablated");
        assertThat(lines).hasSize(1 + layers * heads);
        assertThat(lines.get(1)).startsWith("0,0,");
    }

    @Test
    void aLayerRangeOutsideTheModelOrAnUnknownRunIsAClearError() {
        int layers = config().numHiddenLayers();
        Http.Reply bad = send("POST", "/lab/api/runs", TOKEN,
                "{\"prompt\":\"x\",\"projections\":\"k\",\"fromLayer\":0,\"toLayer\":" + layers + ",\"maxTokens\":4}");
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.json().path("error").path("message").asString()).contains("layers:", "0.." + (layers - 1));
        Http.Reply letters = send("POST", "/lab/api/runs", TOKEN,
                "{\"prompt\":\"x\",\"projections\":\"o\",\"fromLayer\":0,\"toLayer\":0,\"maxTokens\":4}");
        assertThat(letters.status()).isEqualTo(400);
        assertThat(letters.json().path("error").path("message").asString()).startsWith("projections:");
        Http.Reply missing = send("GET", "/lab/api/runs/nope/csv", TOKEN, null);
        assertThat(missing.status()).isEqualTo(404);
        assertThat(missing.json().path("error").path("message").asString()).contains("no lab run 'nope'");
    }
}

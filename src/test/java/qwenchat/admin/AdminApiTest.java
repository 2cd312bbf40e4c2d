package qwenchat.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import qwenchat.serving.LoadWait;
import qwenchat.serving.Http;
import qwenchat.serving.ModelRuntime;
import tools.jackson.databind.JsonNode;

/** The admin credential, APIs, Prometheus names and the model card, on the demo model. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo-v1", "qwen.cpu-threads=2", "qwen.kv-max-sequences=4",
        "qwen.admin.token=" + AdminApiTest.TOKEN})
class AdminApiTest {

    static final String TOKEN = "Adm1n-test-Token-7f3a";

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry r) throws Exception {
        String dir = Files.createTempDirectory("qwen-admin-api").toString();
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

    private Http.Reply get(String path, String token) {
        HttpRequest.Builder b = HttpRequest.newBuilder(http.uri(path)).GET();
        if (token != null) b.header("Authorization", "Bearer " + token);
        return http.send(b);
    }

    private Http.Reply send(String method, String path, String token, String json) {
        HttpRequest.Builder b = HttpRequest.newBuilder(http.uri(path)).header("Content-Type", "application/json")
                .method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
        if (token != null) b.header("Authorization", "Bearer " + token);
        return http.send(b);
    }

    private void chat(int maxTokens) {
        Http.Reply r = http.post("/v1/chat/completions", "application/json",
                "{\"model\":\"qwen\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello admin\"}],\"max_tokens\":"
                        + maxTokens + ",\"temperature\":0}");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
    }

    @Test
    void adminApisNeedTheExactToken() {
        for (String path : List.of("/admin/api/overview", "/admin/api/history")) {
            Http.Reply none = get(path, null);
            assertThat(none.status()).isEqualTo(401);
            assertThat(none.raw().headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
            assertThat(none.json().path("error").path("message").asString()).contains("missing admin token");
            assertThat(get(path, "wrong-token").status()).isEqualTo(401);
            assertThat(get(path, TOKEN.toLowerCase()).status()).isEqualTo(401);
            assertThat(get(path, TOKEN.toUpperCase()).status()).isEqualTo(401);
            assertThat(get(path, TOKEN + "x").status()).isEqualTo(401);
            Http.Reply ok = get(path, TOKEN);
            assertThat(ok.status()).isEqualTo(200);
            assertThat(ok.raw().headers().firstValue("Cache-Control")).as(path).hasValueSatisfying(v -> assertThat(v).contains("no-store"));
        }
        assertThat(send("POST", "/admin/api/ticket", null, null).status()).isEqualTo(401);
        assertThat(get("/admin/api/events", null).status()).isEqualTo(401);
        assertThat(get("/admin/api/events?ticket=" + TOKEN, null).status()).isEqualTo(401);
    }

    @Test
    void theDashboardShellIsPublicButHoldsNoData() {
        Http.Reply page = http.get("/admin");
        assertThat(page.status()).isEqualTo(200);
        assertThat(page.body()).contains("id=\"login-form\"").doesNotContain("demo weights (random)</dd>");
        assertThat(page.raw().headers().firstValue("Content-Security-Policy")).hasValueSatisfying(v -> assertThat(v).contains("script-src 'self'"));
    }

    @Test
    void eventStreamTicketsWorkOnceAndNeverCarryTheToken() throws Exception {
        Http.Reply t = send("POST", "/admin/api/ticket", TOKEN, null);
        assertThat(t.status()).isEqualTo(200);
        assertThat(t.raw().headers().firstValue("Cache-Control")).hasValueSatisfying(v -> assertThat(v).contains("no-store"));
        String ticket = t.json().path("ticket").asString();
        assertThat(ticket).hasSizeGreaterThanOrEqualTo(32).doesNotContain(TOKEN);
        HttpResponse<java.io.InputStream> stream = java.net.http.HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(http.uri("/admin/api/events?ticket=" + ticket)).GET().build(),
                HttpResponse.BodyHandlers.ofInputStream());
        try (var in = new java.io.BufferedReader(new java.io.InputStreamReader(stream.body()))) {
            assertThat(stream.statusCode()).isEqualTo(200);
            assertThat(stream.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
            assertThat(stream.headers().firstValue("Cache-Control").orElse("")).contains("no-store");
            assertThat(in.readLine()).isEqualTo("event:tick");
            String data = in.readLine();
            assertThat(data).startsWith("data:").contains("\"overview\"").contains("\"readiness\"");
        }
        assertThat(get("/admin/api/events?ticket=" + ticket, null).status()).isEqualTo(401);
    }

    @Test
    void presetEditsNeedTheAdminToken() {
        String preset = "{\"id\":\"ops-check\",\"name\":{\"en\":\"Ops\",\"zh\":\"运维\"},\"systemPrompt\":\"Be brief.\"}";
        Http.Reply none = send("POST", "/api/presets", null, preset);
        assertThat(none.status()).isEqualTo(401);
        assertThat(none.json().path("error").path("message").asString()).contains("admin token");
        assertThat(send("POST", "/api/presets", "wrong", preset).status()).isEqualTo(401);
        assertThat(send("POST", "/api/presets/import", null, "{\"presets\":[" + preset + "]}").status()).isEqualTo(401);
        assertThat(send("POST", "/api/presets", TOKEN, preset).status()).isEqualTo(201);
        assertThat(send("PUT", "/api/presets/ops-check", null, preset).status()).isEqualTo(401);
        assertThat(send("DELETE", "/api/presets/ops-check", null, null).status()).isEqualTo(401);
        assertThat(send("DELETE", "/api/presets/ops-check", TOKEN, null).status()).isEqualTo(204);
        // Reading stays open to the chat.
        assertThat(http.get("/api/presets").status()).isEqualTo(200);
    }

    @Test
    void prometheusExposesVllmNamesWithModelNameThatMoveAfterAGeneration() throws Exception {
        chat(4);
        String before = http.get("/actuator/prometheus").body();
        chat(6);
        String after = http.get("/actuator/prometheus").body();
        String label = "model_name=\"demo weights (random)\"";
        for (String name : List.of("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
                "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:num_preemptions_total",
                "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total")) {
            assertThat(after).as(name).containsPattern("(?m)^" + Pattern.quote(name) + "\\{[^}]*" + Pattern.quote(label));
        }
        for (String h : List.of("vllm:time_to_first_token_seconds", "vllm:inter_token_latency_seconds",
                "vllm:e2e_request_latency_seconds", "vllm:request_queue_time_seconds")) {
            assertThat(after).as(h).contains("# TYPE " + h + " histogram")
                    .containsPattern("(?m)^" + Pattern.quote(h) + "_bucket\\{[^}]*le=\"")
                    .containsPattern("(?m)^" + Pattern.quote(h) + "_count\\{[^}]*" + Pattern.quote(label));
        }
        assertThat(value(after, "vllm:generation_tokens_total", label) - value(before, "vllm:generation_tokens_total", label))
                .isEqualTo(6);
        int prompt = runtime.served().orElseThrow().chatTemplate()
                .render(List.of(new qwenchat.tokenizer.ChatMessage("user", "Hello admin")), true).ids().length;
        assertThat(value(after, "vllm:prompt_tokens_total", label) - value(before, "vllm:prompt_tokens_total", label))
                .isEqualTo(prompt);
        // Every prompt is looked up in the prefix cache, in tokens; this one is shorter than a block.
        assertThat(value(after, "vllm:prefix_cache_queries_total", label)
                - value(before, "vllm:prefix_cache_queries_total", label)).isEqualTo(prompt);
        assertThat(value(after, "vllm:prefix_cache_hits_total", label)
                - value(before, "vllm:prefix_cache_hits_total", label)).isZero();
        assertThat(value(after, "vllm:request_success_total", "finished_reason=\"length\"")
                - value(before, "vllm:request_success_total", "finished_reason=\"length\"")).isEqualTo(1);
        assertThat(value(after, "vllm:time_to_first_token_seconds_count", label)
                - value(before, "vllm:time_to_first_token_seconds_count", label)).isEqualTo(1);
        // 6 tokens: 5 gaps between consecutive ones.
        assertThat(value(after, "vllm:inter_token_latency_seconds_count", label)
                - value(before, "vllm:inter_token_latency_seconds_count", label)).isEqualTo(5);
        assertThat(value(after, "qwen_engine_memory_bytes", "kind=\"weights\"")).isPositive();
        assertThat(after).contains("qwen_engine_memory_bytes{kind=\"kv_cache\"");
        assertThat(after).as("no GPU series on the CPU engine").doesNotContain("qwen_gpu_memory_used_bytes");
    }

    /** The sample value of the first line of {@code name} whose labels contain {@code labelPart}. */
    static double value(String scrape, String name, String labelPart) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{([^}]*)\\} (\\S+)").matcher(scrape);
        List<String> seen = new ArrayList<>();
        while (m.find()) {
            if (m.group(1).contains(labelPart)) return Double.parseDouble(m.group(2));
            seen.add(m.group(1));
        }
        if (seen.isEmpty()) return 0;
        throw new AssertionError(name + " has no series with " + labelPart + "; saw " + seen);
    }

    @Test
    void overviewAndInfoCarryTheModelCardWithBiasNorms() throws Exception {
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        JsonNode card = get("/admin/api/overview", TOKEN).json().path("model");
        while (card.path("biasNorms").isNull() && System.nanoTime() < end) {
            Thread.sleep(50);
            card = get("/admin/api/overview", TOKEN).json().path("model");
        }
        var config = runtime.served().orElseThrow().config();
        assertThat(card.path("name").asString()).isEqualTo("demo weights (random)");
        assertThat(card.path("demo").asBoolean()).isTrue();
        assertThat(card.path("layers").asInt()).isEqualTo(config.numHiddenLayers());
        assertThat(card.path("kvHeads").asInt()).isEqualTo(config.numKeyValueHeads());
        assertThat(card.path("parameters").asLong()).isEqualTo(config.parameterCount());
        assertThat(card.path("qkvBias").asBoolean()).isTrue();
        JsonNode k = card.path("biasNorms").path("k");
        assertThat(k.size()).isEqualTo(config.numHiddenLayers());
        try (var checkpoint = qwenchat.weights.ModelDirectory.resolve(java.nio.file.Path.of(card.path("sourceDirectory").asString()))
                .openCheckpoint()) {
            float[] bias = checkpoint.tensor("model.layers.1.self_attn.k_proj.bias").toFloatArray();
            double sum = 0;
            for (float x : bias) sum += x * x;
            assertThat(k.get(1).asDouble()).isCloseTo(Math.sqrt(sum), org.assertj.core.data.Offset.offset(1e-6));
        }
        JsonNode info = http.get("/actuator/info").json().path("model");
        assertThat(info.path("name").asString()).isEqualTo("demo weights (random)");
        assertThat(info.path("headDim").asInt()).isEqualTo(config.headDim());

        JsonNode overview = get("/admin/api/overview", TOKEN).json();
        assertThat(overview.path("engine").path("kind").asString()).isEqualTo("cpu");
        assertThat(overview.path("engine").path("maxSequences").asInt()).isEqualTo(4);
        assertThat(overview.path("gpus").isArray()).as("per-GPU memory rows; none on the CPU engine").isTrue();
        assertThat(overview.path("gpus").size()).isZero();
        // The paged KV pool: blocks used of total, their size, and preemptions so far.
        JsonNode engine = overview.path("engine");
        assertThat(engine.path("totalBlocks").asInt()).isPositive();
        assertThat(engine.path("usedBlocks").asInt()).isBetween(0, engine.path("totalBlocks").asInt());
        assertThat(engine.path("blockSize").asInt()).isEqualTo(64);
        assertThat(engine.path("capacityTokens").asLong())
                .isEqualTo((long) engine.path("totalBlocks").asInt() * engine.path("blockSize").asInt());
        assertThat(engine.path("preemptions").isNumber()).isTrue();
        // The prefix cache's hit rate, in tokens: hits of queries.
        JsonNode prefix = engine.path("prefixCache");
        assertThat(prefix.path("queries").asLong()).isGreaterThanOrEqualTo(prefix.path("hits").asLong());
        assertThat(prefix.path("hitRate").asDouble()).isBetween(0.0, 1.0);
        assertThat(overview.path("totals").path("preemptions").isNumber()).isTrue();
        assertThat(overview.path("load").path("stages").size()).isEqualTo(5);
        assertThat(overview.path("health").path("readiness").asString()).isEqualTo("ACCEPTING_TRAFFIC");
        assertThat(overview.path("health").path("liveness").asString()).isEqualTo("CORRECT");
        assertThat(overview.path("kernels").has("available")).isTrue();
    }

    @Test
    void historyKeepsOneSampleASecondAndCountsAGeneration() throws Exception {
        chat(8);
        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        double tokens = 0;
        JsonNode samples = null;
        while (tokens < 8 && System.nanoTime() < end) {
            Thread.sleep(200);
            samples = get("/admin/api/history", TOKEN).json().path("samples");
            tokens = 0;
            for (JsonNode s : samples) tokens += s.path("decodeTokensPerSecond").asDouble();
        }
        assertThat(samples).isNotNull();
        assertThat(samples.size()).isGreaterThanOrEqualTo(1);
        long completed = 0;
        for (JsonNode s : samples) completed += s.path("completed").asLong();
        assertThat(completed).isGreaterThanOrEqualTo(1);
        // Rates are per second of roughly one-second ticks: the decodes of this chat show up.
        assertThat(tokens).isGreaterThan(0);
    }

    @Test
    void healthGroupsCarryModelAndHeartbeat() {
        JsonNode live = http.get("/actuator/health/liveness").json();
        assertThat(live.path("status").asString()).isEqualTo("UP");
        assertThat(live.path("components").has("decodeLoop")).isTrue();
        assertThat(live.path("components").has("model")).isFalse();
        JsonNode ready = http.get("/actuator/health/readiness").json();
        assertThat(ready.path("components").has("model")).isTrue();
        JsonNode engine = http.get("/actuator/health").json().path("components").path("engine");
        assertThat(engine.path("status").asString()).isEqualTo("UP");
        assertThat(engine.path("details").path("kind").asString()).isEqualTo("cpu");
    }
}

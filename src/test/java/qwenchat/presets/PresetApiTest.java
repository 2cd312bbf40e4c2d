package qwenchat.presets;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import qwenchat.web.FakeServing;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {FakeServing.NO_REAL_MODEL,
        "qwen.admin.token=" + PresetApiTest.ADMIN_TOKEN})
@Import(FakeServing.class)
class PresetApiTest {

    static final String ADMIN_TOKEN = "preset-admin-token";
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static Path dataDir;

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry r) throws Exception {
        dataDir = Files.createTempDirectory("qwen-presets-api");
        r.add("qwen.data-dir", dataDir::toString);
    }

    @LocalServerPort
    int port;

    private final HttpClient http = HttpClient.newHttpClient();

    private record Reply(int status, JsonNode body) {
    }

    /** Sends the admin token: changing presets needs it. */
    private Reply call(String method, String path, String body) throws Exception {
        return call(method, path, body, ADMIN_TOKEN);
    }

    private Reply call(String method, String path, String body, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) b.header("Authorization", "Bearer " + token);
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body().isEmpty() ? null : JSON.readTree(r.body()));
    }

    @Test
    void crudImportAndExportOverHttp() throws Exception {
        Reply list = call("GET", "/api/presets", null);
        assertThat(list.status()).isEqualTo(200);
        assertThat(list.body().size()).isGreaterThanOrEqualTo(8);
        assertThat(list.body().get(0).path("builtin").asBoolean()).isTrue();

        Reply created = call("POST", "/api/presets", """
                {"id":"haiku","name":{"en":"Haiku poet","zh":"俳句诗人"},"systemPrompt":"Answer in haiku.",
                 "sampling":{"temperature":1.1,"maxTokens":64},"examples":["Autumn"],"builtin":true}""");
        assertThat(created.status()).isEqualTo(201);
        assertThat(created.body().path("builtin").asBoolean()).as("clients cannot mark presets built in").isFalse();
        assertThat(Files.readString(dataDir.resolve("presets.json"))).contains("\"haiku\"").contains("俳句诗人");

        Reply edited = call("PUT", "/api/presets/haiku", """
                {"name":{"en":"Haiku master"},"systemPrompt":"Only haiku.","sampling":{"topK":5}}""");
        assertThat(edited.status()).isEqualTo(200);
        assertThat(call("GET", "/api/presets/haiku", null).body().path("name").path("zh").asString()).isEqualTo("Haiku master");

        Reply exported = call("GET", "/api/presets/export", null);
        assertThat(exported.body().path("presets")).hasSize(1);
        assertThat(call("DELETE", "/api/presets/haiku", null).status()).isEqualTo(204);
        assertThat(call("GET", "/api/presets/haiku", null).status()).isEqualTo(404);

        Reply imported = call("POST", "/api/presets/import", JSON.writeValueAsString(exported.body()));
        assertThat(imported.status()).isEqualTo(200);
        assertThat(imported.body().path("imported").asInt()).isEqualTo(1);
        assertThat(call("GET", "/api/presets/haiku", null).body().path("systemPrompt").asString()).isEqualTo("Only haiku.");
    }

    @Test
    void errorsNameTheFieldAndUseTheRightStatus() throws Exception {
        Reply bad = call("POST", "/api/presets", """
                {"id":"t1","name":{"en":"T"},"sampling":{"topP":0}}""");
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.body().path("error").path("field").asString()).isEqualTo("sampling.topP");
        assertThat(bad.body().path("error").path("message").asString()).isEqualTo("sampling.topP: must be in (0, 1], got 0.0");

        Reply builtin = call("PUT", "/api/presets/general", """
                {"name":{"en":"Mine"}}""");
        assertThat(builtin.status()).isEqualTo(409);
        assertThat(builtin.body().path("error").path("message").asString()).contains("built in and read-only");
        assertThat(call("DELETE", "/api/presets/general", null).status()).isEqualTo(409);

        Reply garbage = call("POST", "/api/presets", "{\"id\": [");
        assertThat(garbage.status()).isEqualTo(400);
        assertThat(garbage.body().path("error").path("message").asString()).startsWith("request body is not a valid preset JSON");

        Reply badImport = call("POST", "/api/presets/import", """
                {"presets":[{"id":"ok1","name":{"en":"Ok"}},{"id":"BAD!","name":{"en":"Bad"}}]}""");
        assertThat(badImport.status()).isEqualTo(400);
        assertThat(badImport.body().path("error").path("field").asString()).isEqualTo("presets[1].id");
        assertThat(call("GET", "/api/presets/ok1", null).status()).as("import is all or nothing").isEqualTo(404);
    }

    @Test
    void loneSurrogatesAreRefusedInEveryPresetTextFieldNamingIt() throws Exception {
        String lone = "\\ud800";
        java.util.Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("{\"id\":\"s1\",\"name\":{\"en\":\"Bad " + lone + "\"}}", "name.en");
        cases.put("{\"id\":\"s1\",\"name\":{\"en\":\"Ok\",\"zh\":\"" + lone + "\"}}", "name.zh");
        cases.put("{\"id\":\"s1\",\"name\":{\"en\":\"Ok\"},\"description\":{\"en\":\"" + lone + "\"}}", "description.en");
        cases.put("{\"id\":\"s1\",\"name\":{\"en\":\"Ok\"},\"systemPrompt\":\"x" + lone + "\"}", "systemPrompt");
        cases.put("{\"id\":\"s1\",\"name\":{\"en\":\"Ok\"},\"greeting\":{\"zh\":\"" + lone + "\"}}", "greeting.zh");
        cases.put("{\"id\":\"s1\",\"name\":{\"en\":\"Ok\"},\"examples\":[\"fine\",\"" + lone + "\"]}", "examples[1]");
        cases.put("{\"id\":\"s" + lone + "\",\"name\":{\"en\":\"Ok\"}}", "id");
        for (var c : cases.entrySet()) {
            Reply r = call("POST", "/api/presets", c.getKey());
            assertThat(r.status()).as(c.getKey()).isEqualTo(400);
            assertThat(r.body().path("error").path("field").asString()).as(c.getKey()).isEqualTo(c.getValue());
            assertThat(r.body().path("error").path("message").asString()).as(c.getKey()).contains("lone surrogate");
        }
        Reply imported = call("POST", "/api/presets/import", "{\"presets\":[{\"id\":\"s2\",\"name\":{\"en\":\"" + lone + "\"}}]}");
        assertThat(imported.status()).isEqualTo(400);
        assertThat(imported.body().path("error").path("field").asString()).isEqualTo("presets[0].name.en");
        assertThat(call("GET", "/api/presets/s1", null).status()).isEqualTo(404);
        assertThat(call("GET", "/api/presets/s2", null).status()).isEqualTo(404);
    }

    @Test
    void malformedPresetBodiesNameTheFieldAndTheReasonButNoJavaClass() throws Exception {
        Reply name = call("POST", "/api/presets", "{\"id\":\"m1\",\"name\":[\"not\",\"an object\"]}");
        assertThat(name.status()).isEqualTo(400);
        assertThat(name.body().path("error").path("field").asString()).isEqualTo("name");
        assertThat(name.body().path("error").path("message").asString()).endsWith("field name: must be an object");
        Reply topK = call("POST", "/api/presets", "{\"id\":\"m1\",\"name\":{\"en\":\"M\"},\"sampling\":{\"topK\":\"many\"}}");
        assertThat(topK.status()).isEqualTo(400);
        assertThat(topK.body().path("error").path("field").asString()).isEqualTo("sampling.topK");
        assertThat(topK.body().path("error").path("message").asString()).endsWith("must be an integer, got 'many'");
        Reply examples = call("POST", "/api/presets", "{\"id\":\"m1\",\"name\":{\"en\":\"M\"},\"examples\":\"one\"}");
        for (Reply r : java.util.List.of(name, topK, examples)) {
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.body().toString()).doesNotContain("qwenchat.").doesNotContain("LocalizedText")
                    .doesNotContain("PresetSampling").doesNotContain("java.").doesNotContain("tools.jackson");
        }
    }

    @Test
    void changesWithoutTheAdminTokenAre401AndChangeNothing() throws Exception {
        String preset = """
                {"id":"nope","name":{"en":"Nope"},"systemPrompt":"x"}""";
        for (String token : new String[] {null, "wrong", ADMIN_TOKEN.toUpperCase()}) {
            Reply r = call("POST", "/api/presets", preset, token);
            assertThat(r.status()).isEqualTo(401);
            assertThat(r.body().path("error").path("message").asString()).contains("admin token");
            assertThat(call("PUT", "/api/presets/general", preset, token).status()).isEqualTo(401);
            assertThat(call("DELETE", "/api/presets/general", null, token).status()).isEqualTo(401);
            assertThat(call("POST", "/api/presets/import", "{\"presets\":[" + preset + "]}", token).status()).isEqualTo(401);
        }
        assertThat(call("GET", "/api/presets/nope", null, null).status()).isEqualTo(404);
        assertThat(call("GET", "/api/presets/general", null, null).status()).isEqualTo(200);
    }
}

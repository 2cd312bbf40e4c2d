package qwenchat.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import qwenchat.web.FakeServing;

/**
 * Every spelling of a protected path an attacker tried, sent byte for byte to a running server
 * with an admin token and API keys configured: each is refused (400 from the firewall, 401 from
 * the rules, or 404 for a spelling that routes nowhere), never served.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {FakeServing.NO_REAL_MODEL,
        "qwen.admin.token=" + PathBypassTest.ADMIN_TOKEN, "qwen.api-keys=" + PathBypassTest.API_KEY,
        "qwen.data-dir=" + PathBypassTest.DATA_DIR})
@Import(FakeServing.class)
class PathBypassTest {

    static final String ADMIN_TOKEN = "bypass-admin-token";
    static final String API_KEY = "bypass-api-key";
    /** Nothing is written there: every preset change in these tests is refused. */
    static final String DATA_DIR = "target/qwen-security-test-data";

    @LocalServerPort
    int port;

    static Stream<Arguments> encodedAndSemicolonPaths() {
        return Stream.of(
                // the reported bypasses
                Arguments.of("GET", "/admin/%61pi/overview", 401),
                Arguments.of("GET", "/%61dmin/api/overview", 401),
                Arguments.of("GET", "/admin;x/api/overview", 400),
                Arguments.of("POST", "/admin;x/api/ticket", 400),
                Arguments.of("GET", "/admin/%61pi/events", 401),
                Arguments.of("POST", "/%761/chat/completions", 401),
                Arguments.of("POST", "/v%31/chat/completions", 401),
                Arguments.of("GET", "/v1;x/models", 400),
                // double encoding, empty, dot and dot-dot segments, path parameters
                Arguments.of("GET", "/admin/%2561pi/overview", 400),
                Arguments.of("GET", "/v%2531/models", 400),
                Arguments.of("GET", "//admin/api/overview", 400),
                Arguments.of("GET", "/admin//api/overview", 400),
                Arguments.of("GET", "/v1//models", 400),
                Arguments.of("GET", "/admin/./api/overview", 400),
                Arguments.of("GET", "/v1/./models", 400),
                Arguments.of("GET", "/admin/x/../api/overview", 400),
                Arguments.of("GET", "/admin/x/..;/api/overview", 400),
                Arguments.of("GET", "/x/..;/v1/models", 400),
                Arguments.of("GET", "/admin/api/overview;jsessionid=1", 400),
                Arguments.of("GET", "/admin/%2e/api/overview", 400),
                // encoded separators inside a segment
                Arguments.of("GET", "/admin%2Fapi/overview", 400),
                Arguments.of("GET", "/admin/api%2foverview", 400),
                Arguments.of("GET", "/v1%2Fmodels", 400),
                Arguments.of("GET", "/admin%5Capi/overview", 400),
                // a trailing slash is still under the protected prefix
                Arguments.of("GET", "/admin/api/overview/", 401),
                Arguments.of("GET", "/v1/models/", 401),
                // case changes route nowhere
                Arguments.of("GET", "/Admin/api/overview", 404),
                Arguments.of("GET", "/ADMIN/API/OVERVIEW", 404),
                Arguments.of("GET", "/V1/models", 404),
                // preset changes need the admin token however the path is spelled
                Arguments.of("POST", "/api/%70resets", 401),
                Arguments.of("DELETE", "/api/presets/%67eneral", 401),
                Arguments.of("POST", "/api;x/presets", 400),
                Arguments.of("POST", "/api/presets/import/", 401),
                // the bias lab's runs and exports need the admin token however the path is spelled
                Arguments.of("POST", "/lab/%61pi/runs", 401),
                Arguments.of("POST", "/lab;x/api/runs", 400),
                Arguments.of("GET", "/lab/./api/model", 400),
                Arguments.of("GET", "/lab/api/model/", 401),
                Arguments.of("GET", "/LAB/API/MODEL", 404));
    }

    @ParameterizedTest(name = "{0} {1} -> {2}")
    @MethodSource("encodedAndSemicolonPaths")
    void encodedAndNonCanonicalPathsAreRefusedBeforeRouting(String method, String path, int expected) {
        RawHttp.Reply r = new RawHttp(port).send(method, path, null, method.equals("GET") ? null : "{}");
        assertThat(r.status()).as(r.body()).isEqualTo(expected);
        assertThat(r.body()).doesNotContain("\"ticket\"", "\"samples\"", "\"engine\"", "\"data\"", "systemPrompt");
        if (r.header("Content-Type") != null && r.header("Content-Type").contains("json")) {
            assertThat(r.json().path("error").path("message").asString()).isNotBlank();
        }
        assertThat(r.body()).as("no Java class names in a refusal").doesNotContain("Exception", "qwenchat.", "springframework");
    }

    @Test
    void firewallRefusalsAre400WithTheReason() {
        RawHttp.Reply r = new RawHttp(port).send("GET", "/admin;x/api/overview", ADMIN_TOKEN);
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().path("error").path("message").asString()).contains("refused").contains(";");
    }

    @Test
    void encodedSpellingsGetTheAreaOwnChallenge() {
        RawHttp http = new RawHttp(port);
        RawHttp.Reply admin = http.send("GET", "/admin/%61pi/overview", null);
        assertThat(admin.header("WWW-Authenticate")).startsWith("Bearer");
        assertThat(admin.json().path("error").path("message").asString()).contains("missing admin token");

        RawHttp.Reply api = http.send("POST", "/v%31/chat/completions", "not-a-key", "{}");
        assertThat(api.json().path("error").path("type").asString()).isEqualTo("invalid_request_error");
        assertThat(api.json().path("error").path("code").asString()).isEqualTo("invalid_api_key");
        assertThat(api.json().path("error").path("message").asString()).isEqualTo("incorrect API key provided");
    }

    @Test
    void theCanonicalPathsServeDataWithTheRightCredentialOnly() {
        RawHttp http = new RawHttp(port);
        assertThat(http.send("GET", "/admin/api/history", ADMIN_TOKEN).status()).isEqualTo(200);
        // Past authentication (the fake runtime may answer 503 while "loading"), never a key error.
        assertThat(http.send("GET", "/v1/models", API_KEY).body()).doesNotContain("invalid_api_key");
        // Each credential opens its own area only.
        assertThat(http.send("GET", "/admin/api/history", API_KEY).status()).isEqualTo(401);
        assertThat(http.send("GET", "/v1/models", ADMIN_TOKEN).status()).isEqualTo(401);
        assertThat(http.send("POST", "/api/presets", API_KEY, "{\"id\":\"k\",\"name\":{\"en\":\"K\"}}").status())
                .isEqualTo(401);
        // An encoded letter names the same resource, so the right credential opens it too.
        assertThat(http.send("GET", "/admin/%61pi/history", ADMIN_TOKEN).status()).isEqualTo(200);
    }

    @Test
    void unknownPathsAreNotFoundWithoutHintingAtWhatExists() {
        RawHttp.Reply r = new RawHttp(port).send("GET", "/no-such-page", null);
        assertThat(r.status()).isEqualTo(404);
        assertThat(r.header("WWW-Authenticate")).isNull();
    }
}

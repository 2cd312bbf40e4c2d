package qwenchat.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Import;
import org.springframework.security.core.userdetails.UserDetailsService;
import qwenchat.web.FakeServing;

/** Headers, open paths and the absence of sessions and default users; same server as {@link PathBypassTest}. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {FakeServing.NO_REAL_MODEL,
        "qwen.admin.token=" + PathBypassTest.ADMIN_TOKEN, "qwen.api-keys=" + PathBypassTest.API_KEY,
        "qwen.data-dir=" + PathBypassTest.DATA_DIR})
@Import(FakeServing.class)
class SecurityHeadersTest {

    @LocalServerPort
    int port;

    @Autowired
    ApplicationContext context;

    @Test
    void everyPageForbidsFramingAndSniffingAndCarriesOneContentSecurityPolicy() {
        RawHttp http = new RawHttp(port);
        for (String page : List.of("/", "/admin")) {
            RawHttp.Reply r = http.send("GET", page, null);
            assertThat(r.status()).as(page).isEqualTo(200);
            assertThat(r.header("X-Frame-Options")).as(page).isEqualTo("DENY");
            assertThat(r.header("Content-Security-Policy")).as(page).isEqualTo(SecurityConfiguration.CONTENT_SECURITY_POLICY)
                    .contains("frame-ancestors 'none'");
            assertThat(r.header("X-Content-Type-Options")).as(page).isEqualTo("nosniff");
            assertThat(r.header("Referrer-Policy")).as(page).isEqualTo("no-referrer");
            assertThat(r.header("Set-Cookie")).as(page + " starts no session").isNull();
        }
        RawHttp.Reply refused = http.send("GET", "/admin/api/overview", null);
        assertThat(refused.header("X-Frame-Options")).isEqualTo("DENY");
        assertThat(refused.header("Cache-Control")).contains("no-store");
    }

    @Test
    void assetsAndProbesStayOpen() {
        RawHttp http = new RawHttp(port);
        for (String asset : List.of("/chat.js", "/presets.js", "/app.css", "/admin.js", "/webjars/marked/marked.min.js")) {
            RawHttp.Reply r = http.send("GET", asset, null);
            assertThat(r.status()).as(asset).isEqualTo(200);
            assertThat(r.header("X-Content-Type-Options")).as(asset).isEqualTo("nosniff");
            assertThat(r.header("Cache-Control")).as(asset + " may be kept and revalidated").isEqualTo("no-cache");
        }
        // The fake runtime never becomes ready, so readiness says 503; what matters is that no credential is asked.
        for (String probe : List.of("/actuator/health/liveness", "/actuator/health/readiness", "/actuator/prometheus")) {
            RawHttp.Reply r = http.send("GET", probe, null);
            assertThat(r.status()).as(probe).isIn(200, 503);
        }
    }

    @Test
    void thereIsNoDefaultUserNorLoginForm() {
        assertThat(context.getBeanProvider(UserDetailsService.class).getIfAvailable()).isNull();
        RawHttp http = new RawHttp(port);
        assertThat(http.send("GET", "/login", null).status()).isEqualTo(404);
        assertThat(http.send("POST", "/logout", null).status()).isEqualTo(404);
        assertThat(http.send("HEAD", "/", null).status()).as("uptime checks").isEqualTo(200);
    }
}

package qwenchat.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpRequest;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import qwenchat.serving.LoadWait;
import qwenchat.serving.Http;
import qwenchat.serving.LoadState;
import qwenchat.serving.ModelRuntime;
import tools.jackson.databind.JsonNode;

/** A model that cannot load: the dashboard names the failed stage and why; liveness stays UP (a restart would not help). */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.model-dir=target/no-such-model-dir", "qwen.admin.token=load-failure-token",
        "qwen.data-dir=target/admin-load-failure-data"})
class AdminLoadFailureTest {

    @LocalServerPort
    int port;
    @Autowired
    ModelRuntime runtime;

    @Test
    void overviewShowsTheFailedStageAndItsReason() throws Exception {
        LoadWait.settled(runtime, Duration.ofSeconds(30));
        assertThat(runtime.status().state()).isEqualTo(LoadState.FAILED);
        Http http = new Http(port);
        JsonNode o = http.send(HttpRequest.newBuilder(http.uri("/admin/api/overview"))
                .header("Authorization", "Bearer load-failure-token").GET()).json();
        JsonNode load = o.path("load");
        assertThat(load.path("state").asString()).isEqualTo("FAILED");
        assertThat(load.path("error").asString()).contains("no-such-model-dir").contains("not a directory");
        JsonNode stages = load.path("stages");
        assertThat(stages.get(stages.size() - 1).path("stage").asString()).isEqualTo("VALIDATE_FILES");
        assertThat(stages.get(stages.size() - 1).path("durationMillis").isNumber()).isTrue();
        assertThat(o.path("model").isNull()).isTrue();
        assertThat(o.path("engine").isNull()).isTrue();
        assertThat(o.path("health").path("readiness").asString()).isEqualTo("REFUSING_TRAFFIC");
        assertThat(o.path("health").path("readinessReason").asString()).startsWith("model loading failed: ");
        assertThat(o.path("health").path("liveness").asString()).isEqualTo("CORRECT");
        assertThat(http.get("/actuator/health/liveness").status()).isEqualTo(200);
        assertThat(http.get("/actuator/info").json().path("model").path("state").asString()).isEqualTo("FAILED");
    }
}

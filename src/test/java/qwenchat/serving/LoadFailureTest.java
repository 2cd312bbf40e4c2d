package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import qwenchat.web.TestSocket;
import tools.jackson.databind.JsonNode;

/** A model directory that does not exist: loading fails for good, readiness is DOWN naming the directory. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = "qwen.model-dir=target/no-such-model-dir")
class LoadFailureTest {

    @LocalServerPort
    int port;

    @Autowired
    ModelRuntime runtime;

    @Test
    void badModelDirectoryGivesReadinessDownWithTheReason() throws Exception {
        assertThat(Files.exists(Path.of("target/no-such-model-dir"))).isFalse();
        LoadWait.settled(runtime, Duration.ofSeconds(30));

        Http http = new Http(port);
        Http.Reply r = http.get("/actuator/health/readiness");
        assertThat(r.status()).isEqualTo(503);
        assertThat(r.json().at("/status").asString()).isEqualTo("DOWN");
        var model = r.json().at("/components/model");
        assertThat(model.at("/status").asString()).isEqualTo("DOWN");
        assertThat(model.at("/details/state").asString()).isEqualTo("FAILED");
        assertThat(model.at("/details/stage").asString()).isEqualTo("VALIDATE_FILES");
        // The reason, without the server's paths: readiness is public, the full message is in the log.
        assertThat(model.at("/details/error").asString())
                .contains("no-such-model-dir: not a directory").doesNotContain("target/");
        assertThat(runtime.served()).isEmpty();
        Http.Reply api = http.post("/v1/chat/completions", "application/json",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(api.status()).isEqualTo(503);
        assertThat(api.json().at("/error/message").asString()).startsWith("the model failed to load: ")
                .contains("no-such-model-dir: not a directory");
        assertThat(api.body()).doesNotContain("target/").doesNotContain(System.getProperty("user.dir"))
                .doesNotContain("qwenchat.").doesNotContain("Exception");
        try (TestSocket s = TestSocket.open(port)) {
            JsonNode status = s.next("status");
            assertThat(status.path("state").asString()).isEqualTo("FAILED");
            assertThat(status.path("error").asString()).contains("no-such-model-dir: not a directory")
                    .doesNotContain("target/");
            s.send(Map.of("type", "chat", "id", "c1", "messages", List.of(Map.of("role", "user", "content", "hi"))));
            JsonNode error = s.next("error");
            assertThat(error.path("code").asString()).isEqualTo("model_not_ready");
            assertThat(error.path("message").asString()).contains("no-such-model-dir").doesNotContain("target/")
                    .doesNotContain("qwenchat.");
        }
        // Loading failed, the process itself is healthy.
        assertThat(http.get("/actuator/health/liveness").status()).isEqualTo(200);
    }
}

package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

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
        assertThat(model.at("/details/error").asString())
                .contains("target/no-such-model-dir").contains("not a directory");
        assertThat(runtime.served()).isEmpty();
        // Loading failed, the process itself is healthy.
        assertThat(http.get("/actuator/health/liveness").status()).isEqualTo(200);
    }
}

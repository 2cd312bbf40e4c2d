package qwenchat.presets;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.http.ResponseEntity;

class PresetErrorHandlerTest {

    @Test
    void aStorageFailureTellsTheClientWhatFailedWithoutServerPathsOrClassNames() {
        IOException cause = new AccessDeniedException("/srv/qwen/data/presets.json.tmp");
        ResponseEntity<Map<String, Object>> r = new PresetErrorHandler().storage(new PresetStorageException(
                "could not save presets to /srv/qwen/data/presets.json: " + cause, cause));
        assertThat(r.getStatusCode().value()).isEqualTo(500);
        String message = String.valueOf(((Map<?, ?>) r.getBody().get("error")).get("message"));
        assertThat(message).isEqualTo("could not save presets to presets.json: presets.json.tmp");
    }
}

package qwenchat.presets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.http.ResponseEntity;
import org.springframework.mock.web.MockHttpServletRequest;
import tools.jackson.databind.json.JsonMapper;

class PresetEditPolicyTest {

    @TempDir
    Path dir;

    private final PresetEditPolicy adminsOnly = request -> {
        if (!"admin".equals(request.getHeader("X-Role"))) throw new PresetEditForbiddenException("editing presets needs the admin credential");
    };

    private static Preset preset(String id) {
        return new Preset(id, new LocalizedText("P", null), null, "", null, null, List.of(), false);
    }

    @Test
    void aRefusingPolicyBlocksEveryChangeButNotReading() {
        PresetStore store = new PresetStore(dir, new AtomicFileWriter(), JsonMapper.builder().build());
        PresetController controller = new PresetController(store, adminsOnly);
        MockHttpServletRequest anonymous = new MockHttpServletRequest();
        assertThatThrownBy(() -> controller.create(preset("a"), anonymous)).isInstanceOf(PresetEditForbiddenException.class);
        assertThatThrownBy(() -> controller.importPresets(new PresetStore.PresetFile(1, List.of(preset("b"))), anonymous))
                .isInstanceOf(PresetEditForbiddenException.class);
        assertThat(store.exportCustom()).isEmpty();
        assertThat(controller.list()).isNotEmpty();

        MockHttpServletRequest admin = new MockHttpServletRequest();
        admin.addHeader("X-Role", "admin");
        controller.create(preset("a"), admin);
        assertThatThrownBy(() -> controller.update("a", preset("a"), anonymous)).isInstanceOf(PresetEditForbiddenException.class);
        assertThatThrownBy(() -> controller.delete("a", anonymous)).isInstanceOf(PresetEditForbiddenException.class);
        assertThat(store.get("a")).isNotNull();
    }

    @Test
    void refusalIsA403WithTheReason() {
        ResponseEntity<Map<String, Object>> r = new PresetErrorHandler()
                .forbidden(new PresetEditForbiddenException("editing presets needs the admin credential"));
        assertThat(r.getStatusCode().value()).isEqualTo(403);
        assertThat(r.getBody()).isEqualTo(Map.of("error", Map.of("message", "editing presets needs the admin credential")));
    }

    @Test
    void missingCredentialIsA401WithABearerChallenge() {
        ResponseEntity<Map<String, Object>> r = new PresetErrorHandler()
                .unauthorized(new PresetEditUnauthorizedException("changing presets needs the admin token"));
        assertThat(r.getStatusCode().value()).isEqualTo(401);
        assertThat(r.getHeaders().getFirst("WWW-Authenticate")).startsWith("Bearer");
        assertThat(r.getBody()).isEqualTo(Map.of("error", Map.of("message", "changing presets needs the admin token")));
    }

    @Test
    void theDefaultPolicyAllowsEveryone() {
        PresetEditPolicy.allowAll().checkMayEdit(new MockHttpServletRequest());
    }
}

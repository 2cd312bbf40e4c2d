package qwenchat.presets;

import java.util.List;
import java.util.Map;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code /api/presets}: list and read everything; create, edit, delete, import and export custom
 * presets. Who may change them (the admin token) is decided in {@code qwenchat.security}.
 */
@RestController
@RequestMapping("/api/presets")
public class PresetController {

    private final PresetStore store;

    public PresetController(PresetStore store) {
        this.store = store;
    }

    @GetMapping
    public List<Preset> list() {
        return store.list();
    }

    @GetMapping("/{id}")
    public Preset get(@PathVariable String id) {
        return store.get(id);
    }

    @PostMapping
    @ResponseStatus(HttpStatus.CREATED)
    public Preset create(@RequestBody Preset preset) {
        return store.create(preset);
    }

    @PutMapping("/{id}")
    public Preset update(@PathVariable String id, @RequestBody Preset preset) {
        return store.update(id, preset);
    }

    @DeleteMapping("/{id}")
    @ResponseStatus(HttpStatus.NO_CONTENT)
    public void delete(@PathVariable String id) {
        store.delete(id);
    }

    /** The custom presets as a downloadable file that {@code /import} accepts back. */
    @GetMapping("/export")
    public ResponseEntity<Map<String, Object>> export() {
        return ResponseEntity.ok()
                .header(HttpHeaders.CONTENT_DISPOSITION, "attachment; filename=\"qwen-chat-presets.json\"")
                .body(Map.of("version", 1, "presets", store.exportCustom()));
    }

    /** Accepts what {@code /export} produced: {@code {"presets": [...]}}. */
    @PostMapping("/import")
    public Map<String, Object> importPresets(@RequestBody PresetStore.PresetFile file) {
        List<Preset> imported = store.importPresets(file.presets());
        return Map.of("imported", imported.size(), "presets", imported);
    }
}

package qwenchat.presets;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/**
 * The built-in presets (read-only, from the jar) plus the custom ones, persisted to
 * {@code presets.json} in the data directory. Every change is written to disk before it becomes
 * visible, so a failed write leaves both the file and what clients see unchanged.
 */
public class PresetStore {

    public static final String BUILTIN_RESOURCE = "/presets/builtin.json";
    public static final String FILE_NAME = "presets.json";
    public static final int MAX_CUSTOM_PRESETS = 200;

    /** The on-disk format; the version lets a later release migrate old files. */
    public record PresetFile(Integer version, List<Preset> presets) {
    }

    private final Path file;
    private final AtomicFileWriter writer;
    private final JsonMapper json;
    private final Map<String, Preset> builtins;
    private Map<String, Preset> custom; // guarded by this; replaced on each change, never mutated

    public PresetStore(Path dataDir, AtomicFileWriter writer, JsonMapper json) {
        this.file = dataDir.resolve(FILE_NAME);
        this.writer = writer;
        this.json = json;
        this.builtins = readBuiltins(json);
        this.custom = readCustom();
    }

    public Path file() {
        return file;
    }

    public synchronized List<Preset> list() {
        List<Preset> all = new ArrayList<>(builtins.values());
        all.addAll(custom.values());
        return all;
    }

    public synchronized Optional<Preset> find(String id) {
        Preset p = builtins.get(id);
        return p != null ? Optional.of(p) : Optional.ofNullable(custom.get(id));
    }

    public Preset get(String id) {
        return find(id).orElseThrow(() -> new PresetNotFoundException(id));
    }

    public synchronized List<Preset> exportCustom() {
        return List.copyOf(custom.values());
    }

    public synchronized Preset create(Preset input) {
        Preset p = input.id() == null || input.id().isEmpty() ? input.withId(newId()) : input;
        p = PresetValidator.validate(p.withBuiltin(false));
        if (builtins.containsKey(p.id()) || custom.containsKey(p.id())) {
            throw new PresetConflictException("a preset with id '" + p.id() + "' already exists");
        }
        checkCount(custom.size() + 1);
        Map<String, Preset> next = new LinkedHashMap<>(custom);
        next.put(p.id(), p);
        persist(next);
        return p;
    }

    public synchronized Preset update(String id, Preset input) {
        if (builtins.containsKey(id)) {
            throw new PresetConflictException("preset '" + id + "' is built in and read-only; copy it to make your own");
        }
        if (!custom.containsKey(id)) throw new PresetNotFoundException(id);
        if (input.id() != null && !input.id().isEmpty() && !input.id().equals(id)) {
            throw new PresetValidationException("id", "'" + input.id() + "' does not match the path's '" + id + "'");
        }
        Preset p = PresetValidator.validate(input.withId(id).withBuiltin(false));
        Map<String, Preset> next = new LinkedHashMap<>(custom);
        next.put(id, p);
        persist(next);
        return p;
    }

    public synchronized void delete(String id) {
        if (builtins.containsKey(id)) {
            throw new PresetConflictException("preset '" + id + "' is built in and cannot be deleted");
        }
        if (!custom.containsKey(id)) throw new PresetNotFoundException(id);
        Map<String, Preset> next = new LinkedHashMap<>(custom);
        next.remove(id);
        persist(next);
    }

    /**
     * Adds or replaces custom presets by id, all or nothing: one invalid entry rejects the import
     * with its index in the field name.
     */
    public synchronized List<Preset> importPresets(List<Preset> incoming) {
        if (incoming == null) throw new PresetValidationException("presets", "is missing");
        List<Preset> accepted = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < incoming.size(); i++) {
            Preset in = incoming.get(i);
            if (in == null) throw new PresetValidationException("presets[" + i + "]", "is null");
            if (in.id() == null || in.id().isEmpty()) in = in.withId(newId());
            Preset p;
            try {
                p = PresetValidator.validate(in.withBuiltin(false));
            } catch (PresetValidationException e) {
                throw new PresetValidationException("presets[" + i + "]." + e.field(),
                        e.getMessage().substring(e.field().length() + 2));
            }
            if (builtins.containsKey(p.id())) {
                throw new PresetConflictException("presets[" + i + "]: id '" + p.id() + "' belongs to a built-in preset");
            }
            if (!seen.add(p.id())) {
                throw new PresetValidationException("presets[" + i + "].id", "'" + p.id() + "' appears twice in the import");
            }
            accepted.add(p);
        }
        Map<String, Preset> next = new LinkedHashMap<>(custom);
        accepted.forEach(p -> next.put(p.id(), p));
        checkCount(next.size());
        persist(next);
        return accepted;
    }

    private void checkCount(int count) {
        if (count > MAX_CUSTOM_PRESETS) {
            throw new PresetValidationException("presets", "would hold " + count + " custom presets; the limit is " + MAX_CUSTOM_PRESETS);
        }
    }

    private void persist(Map<String, Preset> next) {
        byte[] bytes = json.writerWithDefaultPrettyPrinter()
                .writeValueAsBytes(new PresetFile(1, List.copyOf(next.values())));
        try {
            writer.write(file, bytes);
        } catch (IOException | RuntimeException e) {
            throw new PresetStorageException("could not save presets to " + file + ": " + e.getMessage(), e);
        }
        custom = next;
    }

    private String newId() {
        String id;
        do {
            id = "custom-" + UUID.randomUUID().toString().substring(0, 8);
        } while (builtins.containsKey(id) || custom != null && custom.containsKey(id));
        return id;
    }

    private Map<String, Preset> readCustom() {
        if (!Files.exists(file)) return new LinkedHashMap<>();
        PresetFile stored;
        try {
            stored = json.readValue(Files.readAllBytes(file), PresetFile.class);
        } catch (IOException | JacksonException e) {
            throw new PresetStorageException("presets file " + file + " is unreadable (" + e.getMessage()
                    + "); fix or move it away, it is never overwritten while unreadable", e);
        }
        Map<String, Preset> out = new LinkedHashMap<>();
        List<Preset> list = stored.presets() == null ? List.of() : stored.presets();
        for (int i = 0; i < list.size(); i++) {
            try {
                Preset p = PresetValidator.validate(list.get(i).withBuiltin(false));
                if (!builtins.containsKey(p.id())) out.put(p.id(), p);
            } catch (PresetValidationException e) {
                throw new PresetStorageException("presets file " + file + ", presets[" + i + "]." + e.getMessage(), e);
            }
        }
        return out;
    }

    private static Map<String, Preset> readBuiltins(JsonMapper json) {
        try (InputStream in = PresetStore.class.getResourceAsStream(BUILTIN_RESOURCE)) {
            if (in == null) throw new IllegalStateException("resource " + BUILTIN_RESOURCE + " is missing from the jar");
            PresetFile f = json.readValue(in, PresetFile.class);
            Map<String, Preset> out = new LinkedHashMap<>();
            for (Preset p : f.presets()) {
                Preset v = PresetValidator.validate(p).withBuiltin(true);
                if (out.put(v.id(), v) != null) throw new IllegalStateException(BUILTIN_RESOURCE + ": duplicate id " + v.id());
            }
            return Collections.unmodifiableMap(out);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + BUILTIN_RESOURCE, e);
        }
    }
}

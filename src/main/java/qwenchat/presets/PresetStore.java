package qwenchat.presets;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qwenchat.clienttext.JsonProblems;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/**
 * The built-in presets (read-only, from the jar) plus the custom ones, persisted to
 * {@code presets.json} in the data directory. Every change is written to disk before it becomes
 * visible, so a failed write leaves both the file and what clients see unchanged.
 */
public class PresetStore {

    private static final Logger log = LoggerFactory.getLogger(PresetStore.class);

    public static final String BUILTIN_RESOURCE = "/presets/builtin.json";
    public static final String FILE_NAME = "presets.json";
    public static final int MAX_CUSTOM_PRESETS = 200;

    /** The format version this release writes and reads; files of a higher one are never rewritten. */
    public static final int FORMAT_VERSION = 1;

    /** The on-disk format; the version lets a later release migrate old files. */
    public record PresetFile(Integer version, List<Preset> presets) {
    }

    private final Path file;
    private final AtomicFileWriter writer;
    private final JsonMapper json;
    private final Map<String, Preset> builtins;
    private Map<String, Preset> custom; // guarded by this; replaced on each change, never mutated
    private String problem; // set once while constructing: why stored presets are not served
    private String readOnlyReason; // set once while constructing: why the file must not be written

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
        if (readOnlyReason != null) throw new PresetConflictException("custom presets are read-only: " + readOnlyReason);
        byte[] bytes = json.writerWithDefaultPrettyPrinter()
                .writeValueAsBytes(new PresetFile(FORMAT_VERSION, List.copyOf(next.values())));
        try {
            writer.write(file, bytes);
        } catch (IOException | RuntimeException e) {
            throw new PresetStorageException("could not save presets to " + file + ": " + e, e);
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

    /**
     * Reads {@code presets.json}. A file that cannot be used never stops the server and is never
     * overwritten: an unreadable one (empty, truncated, garbage, an invalid entry) is moved aside to
     * {@code presets.json.corrupt-<time>} and a fresh file starts with the next edit; one written by
     * a newer release (a higher {@code version}) is left where it is and custom presets become
     * read-only, so rolling forward again finds it intact. Either way the built-ins are served, one
     * line is logged and {@link #problem()} tells the admin dashboard.
     */
    private Map<String, Preset> readCustom() {
        if (!Files.exists(file)) return new LinkedHashMap<>();
        String reason;
        try {
            byte[] bytes = Files.readAllBytes(file);
            if (new String(bytes, StandardCharsets.UTF_8).isBlank()) {
                throw new PresetFileException("the file is empty");
            }
            PresetFile stored = json.readValue(bytes, PresetFile.class);
            if (stored == null) throw new PresetFileException("it holds JSON null instead of an object");
            int version = stored.version() == null ? FORMAT_VERSION : stored.version();
            if (version > FORMAT_VERSION) {
                readOnlyReason = FILE_NAME + " has format version " + version + ", written by a newer release (this one reads "
                        + "version " + FORMAT_VERSION + "); it is left untouched and custom presets are read-only until "
                        + "qwen-chat is upgraded or the file is moved away";
                problem = readOnlyReason + "; serving the built-in presets only";
                log.error("presets file {}: {}; serving the built-in presets only", file, readOnlyReason);
                return new LinkedHashMap<>();
            }
            if (version < 1) throw new PresetFileException("its version " + version + " is not a valid format version");
            return validEntries(stored);
        } catch (JacksonException e) {
            reason = JsonProblems.describe(e);
        } catch (PresetFileException e) {
            reason = e.getMessage();
        } catch (IOException e) {
            reason = "it cannot be read (" + e + ")";
        }
        setAside(reason);
        return new LinkedHashMap<>();
    }

    private Map<String, Preset> validEntries(PresetFile stored) {
        Map<String, Preset> out = new LinkedHashMap<>();
        List<Preset> list = stored.presets() == null ? List.of() : stored.presets();
        for (int i = 0; i < list.size(); i++) {
            if (list.get(i) == null) throw new PresetFileException("presets[" + i + "] is null");
            try {
                Preset p = PresetValidator.validate(list.get(i).withBuiltin(false));
                if (!builtins.containsKey(p.id())) out.put(p.id(), p);
            } catch (PresetValidationException e) {
                throw new PresetFileException("presets[" + i + "]." + e.getMessage());
            }
        }
        return out;
    }

    /** Moves an unusable file out of the way, or, if that fails, keeps it and refuses every write. */
    private void setAside(String reason) {
        String stamp = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC).format(Instant.now());
        Path aside = file.resolveSibling(FILE_NAME + ".corrupt-" + stamp);
        for (int n = 2; Files.exists(aside); n++) aside = file.resolveSibling(FILE_NAME + ".corrupt-" + stamp + "-" + n);
        try {
            Files.move(file, aside);
            problem = FILE_NAME + " was unreadable (" + reason + "); it was moved to " + aside.getFileName()
                    + " and the built-in presets are served; custom presets start afresh";
            log.error("presets file {} is unreadable ({}); moved it to {}; serving the built-in presets only", file, reason,
                    aside);
        } catch (IOException | RuntimeException e) {
            readOnlyReason = FILE_NAME + " is unreadable (" + reason + ") and could not be moved aside (" + e
                    + "); it is left untouched and custom presets are read-only until it is fixed or removed";
            problem = readOnlyReason + "; serving the built-in presets only";
            log.error("presets file {}: {}; serving the built-in presets only", file, readOnlyReason);
        }
    }

    /** Why the stored custom presets are not being served, for the admin dashboard; empty when all is well. */
    public synchronized Optional<String> problem() {
        return Optional.ofNullable(problem);
    }

    /** A presets file that parsed but cannot be used as it stands. */
    private static final class PresetFileException extends RuntimeException {
        PresetFileException(String message) {
            super(message);
        }
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

package qwenchat.presets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import tools.jackson.databind.json.JsonMapper;

@ExtendWith(OutputCaptureExtension.class)
class PresetStoreTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path dir;

    private PresetStore store() {
        return new PresetStore(dir, new AtomicFileWriter(), JSON);
    }

    private static Preset preset(String id, String name) {
        return new Preset(id, new LocalizedText(name, null), null, "You are " + name + ".",
                new PresetSampling(0.5, 0.9, 10, null, 256), null, List.of("hi"), false);
    }

    @Test
    void shipsAtLeastEightBuiltinsWithQwensDefaultSystemPromptFirst() {
        List<Preset> all = store().list();
        assertThat(all).hasSizeGreaterThanOrEqualTo(8).allMatch(Preset::builtin);
        assertThat(all.get(0).id()).isEqualTo("general");
        assertThat(all.get(0).systemPrompt())
                .isEqualTo("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
        assertThat(all).extracting(Preset::id).contains(
                "translator-zh-en", "java-reviewer", "json-extractor", "teacher",
                "writing-polisher", "sql-helper", "roleplay-detective");
        for (Preset p : all) {
            assertThat(p.name().zh()).as(p.id()).isNotBlank().isNotEqualTo(p.name().en());
            assertThat(p.greeting().en()).as(p.id()).isNotBlank();
            assertThat(p.examples()).as(p.id()).isNotEmpty();
        }
        assertThat(store().get("json-extractor").sampling().temperature()).isEqualTo(0.0);
    }

    @Test
    void createdEditedAndDeletedPresetsSurviveARestart() {
        PresetStore s = store();
        s.create(preset("pirate", "Pirate"));
        s.create(preset("poet", "Poet"));
        s.update("pirate", preset(null, "Captain"));
        s.delete("poet");

        PresetStore reopened = store();
        assertThat(reopened.exportCustom()).extracting(Preset::id).containsExactly("pirate");
        Preset pirate = reopened.get("pirate");
        assertThat(pirate.name()).isEqualTo(new LocalizedText("Captain", "Captain"));
        assertThat(pirate.builtin()).isFalse();
        assertThat(pirate.sampling().maxTokens()).isEqualTo(256);
    }

    @Test
    void createWithoutIdGetsAGeneratedOne() {
        Preset p = store().create(preset(null, "Anonymous"));
        assertThat(p.id()).matches("custom-[0-9a-f]{8}");
    }

    @Test
    void builtinPresetsAreReadOnly() {
        PresetStore s = store();
        assertThatThrownBy(() -> s.update("general", preset(null, "Mine")))
                .isInstanceOf(PresetConflictException.class).hasMessageContaining("'general' is built in");
        assertThatThrownBy(() -> s.delete("sql-helper")).isInstanceOf(PresetConflictException.class);
        assertThatThrownBy(() -> s.create(preset("teacher", "Teacher 2")))
                .isInstanceOf(PresetConflictException.class).hasMessageContaining("already exists");
    }

    @Test
    void rejectsOutOfRangeFieldsNamingTheField() {
        PresetStore s = store();
        Preset badTopP = new Preset("x", new LocalizedText("X", null), null, "", new PresetSampling(null, 1.5, null, null, null), null, null, false);
        assertThatThrownBy(() -> s.create(badTopP)).isInstanceOf(PresetValidationException.class)
                .hasMessage("sampling.topP: must be in (0, 1], got 1.5");
        Preset badTemp = new Preset("x", new LocalizedText("X", null), null, "", new PresetSampling(-0.1, null, null, null, null), null, null, false);
        assertThatThrownBy(() -> s.create(badTemp)).hasMessageStartingWith("sampling.temperature:");
        Preset longPrompt = new Preset("x", new LocalizedText("X", null), null, "a".repeat(8001), null, null, null, false);
        assertThatThrownBy(() -> s.create(longPrompt))
                .hasMessage("systemPrompt: is 8001 characters; the limit is 8000");
        assertThatThrownBy(() -> s.create(preset("Bad Id", "X"))).hasMessageStartingWith("id: 'Bad Id' must be lowercase");
        assertThatThrownBy(() -> s.create(new Preset("x", new LocalizedText(" ", ""), null, "", null, null, null, false)))
                .hasMessage("name: needs an English or Chinese text");
        Preset emptyExample = new Preset("x", new LocalizedText("X", null), null, "", null, null, List.of("ok", " "), false);
        assertThatThrownBy(() -> s.create(emptyExample)).hasMessage("examples[1]: is empty");
        assertThat(s.exportCustom()).isEmpty();
    }

    @Test
    void importIsAllOrNothingAndNamesTheBadEntry() {
        PresetStore s = store();
        Preset bad = new Preset("b", new LocalizedText("B", null), null, "", new PresetSampling(null, null, 5000, null, null), null, null, false);
        assertThatThrownBy(() -> s.importPresets(List.of(preset("a", "A"), bad)))
                .isInstanceOf(PresetValidationException.class)
                .hasMessage("presets[1].sampling.topK: must be in [0, 1000], got 5000");
        assertThat(s.exportCustom()).isEmpty();
        assertThatThrownBy(() -> s.importPresets(List.of(preset("general", "G"))))
                .isInstanceOf(PresetConflictException.class);

        s.create(preset("a", "Old A"));
        assertThat(s.importPresets(List.of(preset("a", "New A"), preset("c", "C")))).hasSize(2);
        assertThat(store().exportCustom()).extracting(p -> p.name().en()).containsExactly("New A", "C");
    }

    @Test
    void crashBetweenTempWriteAndRenameKeepsThePreviousPresets() throws IOException {
        store().create(preset("kept", "Kept"));
        byte[] before = Files.readAllBytes(dir.resolve(PresetStore.FILE_NAME));

        PresetStore crashing = new PresetStore(dir, new AtomicFileWriter(temp -> {
            throw new IOException("simulated crash after writing " + temp.getFileName());
        }), JSON);
        assertThatThrownBy(() -> crashing.create(preset("lost", "Lost")))
                .isInstanceOf(PresetStorageException.class)
                .hasMessageContaining("simulated crash after writing presets.json.tmp");

        // The temp file holds the new state, the real file the old one, byte for byte.
        assertThat(Files.readString(dir.resolve("presets.json.tmp"))).contains("\"lost\"");
        assertThat(Files.readAllBytes(dir.resolve(PresetStore.FILE_NAME))).isEqualTo(before);
        // Neither the crashed store nor a restarted one shows the unsaved preset.
        assertThat(crashing.exportCustom()).extracting(Preset::id).containsExactly("kept");
        PresetStore restarted = store();
        assertThat(restarted.exportCustom()).extracting(Preset::id).containsExactly("kept");
        // The next successful write replaces the stale temp file.
        restarted.create(preset("next", "Next"));
        assertThat(store().exportCustom()).extracting(Preset::id).containsExactly("kept", "next");
        assertThat(dir.resolve("presets.json.tmp")).doesNotExist();
    }

    /** The files next to presets.json whose name starts with {@code prefix}. */
    private List<Path> siblings(String prefix) throws IOException {
        try (var files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().startsWith(prefix)).toList();
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "truncated | {\"version\":1,\"presets\":[{\"id\":",
            "garbage   | \u0000\u00ffnot json at all",
            "empty     | ''",
            "json null | null",
            "bad entry | {\"version\":1,\"presets\":[{\"id\":\"Not Valid\",\"name\":{\"en\":\"X\"}}]}"})
    void anUnreadablePresetsFileIsMovedAsideAndTheBuiltinsAreServed(String kind, String content, CapturedOutput log)
            throws IOException {
        Path file = dir.resolve(PresetStore.FILE_NAME);
        Files.writeString(file, content);
        PresetStore s = store();

        List<Path> aside = siblings(PresetStore.FILE_NAME + ".corrupt-");
        assertThat(aside).hasSize(1);
        assertThat(aside.get(0).getFileName().toString()).matches("presets\\.json\\.corrupt-\\d{8}T\\d{6}Z");
        assertThat(Files.readString(aside.get(0))).as("kept byte for byte").isEqualTo(content);
        assertThat(file).doesNotExist();
        assertThat(s.list()).isNotEmpty().allMatch(Preset::builtin);
        assertThat(s.problem()).hasValueSatisfying(p -> assertThat(p).startsWith("presets.json was unreadable (")
                .contains("moved to " + aside.get(0).getFileName()));
        assertThat(log.getAll().lines().filter(l -> l.contains("presets file")).toList()).hasSize(1)
                .allSatisfy(l -> assertThat(l).contains("unreadable").contains(aside.get(0).toString()));
        assertThat(log.getAll()).doesNotContain("\tat ");

        // Editing works again, in a fresh file; the file set aside is never touched.
        s.create(preset("fresh", "Fresh"));
        assertThat(store().find("fresh")).isPresent();
        assertThat(Files.readString(aside.get(0))).isEqualTo(content);
        assertThat(store().problem()).isEmpty();
    }

    @Test
    void aPresetsFileOfANewerVersionIsLeftUntouchedAndNeverRewritten(CapturedOutput log) throws IOException {
        Path file = dir.resolve(PresetStore.FILE_NAME);
        String newer = "{\"version\":2,\"presets\":[{\"id\":\"mine\",\"name\":{\"en\":\"Mine\"},\"tools\":[\"web\"]}]}";
        Files.writeString(file, newer);
        PresetStore s = store();

        assertThat(s.list()).allMatch(Preset::builtin);
        assertThat(s.problem()).hasValueSatisfying(p -> assertThat(p).contains("format version 2")
                .contains("newer release").contains("read-only"));
        assertThat(log.getAll()).contains("format version 2").doesNotContain("\tat ");
        assertThatThrownBy(() -> s.create(preset("other", "Other"))).isInstanceOf(PresetConflictException.class)
                .hasMessageContaining("read-only").hasMessageContaining("version 2");
        assertThatThrownBy(() -> s.importPresets(List.of(preset("other", "Other"))))
                .isInstanceOf(PresetConflictException.class);
        assertThat(Files.readString(file)).isEqualTo(newer);
        assertThat(siblings(PresetStore.FILE_NAME + ".")).isEmpty();
    }
}

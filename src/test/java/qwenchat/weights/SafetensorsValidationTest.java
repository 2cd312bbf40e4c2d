package qwenchat.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One crafted file per way a safetensors header can break the format; each error names file and tensor. */
class SafetensorsValidationTest {

    @TempDir
    Path dir;

    private Path file() {
        return dir.resolve("model.safetensors");
    }

    private SafetensorsException rejection(String header, byte[] data) throws IOException {
        CraftedSafetensors.write(file(), header, data);
        return catchRejection();
    }

    private SafetensorsException catchRejection() {
        try (Checkpoint c = Checkpoint.open(dir)) {
            throw new AssertionError("opened a malformed file with tensors " + c.tensorNames());
        } catch (SafetensorsException ex) {
            assertThat(ex.getMessage()).contains(file().toString());
            return ex;
        }
    }

    @Test
    void acceptsHandWrittenFileWithMetadataAndReadsItsValues() throws IOException {
        CraftedSafetensors.write(file(),
                "{\"__metadata__\":{\"format\":\"pt\"},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                        + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}   ",
                CraftedSafetensors.f32(1.5f, -2f, 0.25f));
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertThat(c.tensorNames()).containsExactly("a", "b");
            assertThat(c.tensor("a").toFloatArray()).containsExactly(1.5f, -2f);
            assertThat(c.tensor("b").toFloatArray()).containsExactly(0.25f);
            assertThat(c.metadata().get(file())).containsEntry("format", "pt").hasSize(1);
            assertThat(c.totalBytes()).isEqualTo(12);
        }
    }

    @Test
    void rejectsFileShorterThanLengthPrefix() throws IOException {
        java.nio.file.Files.write(file(), new byte[] {1, 2, 3});
        assertThat(catchRejection().getMessage()).contains("3 bytes, too short");
    }

    @Test
    void rejectsHeaderLongerThanFile() throws IOException {
        byte[] header = "{}".getBytes(StandardCharsets.UTF_8);
        CraftedSafetensors.write(file(), 1000, header, new byte[0]);
        assertThat(catchRejection().getMessage())
                .contains("header length 1000 bytes runs past the end of the file (10 bytes");
    }

    @Test
    void rejectsHeaderOver100MB() throws IOException {
        CraftedSafetensors.write(file(), 100_000_001L, "{}".getBytes(StandardCharsets.UTF_8), new byte[0]);
        assertThat(catchRejection().getMessage()).contains("header length 100000001 bytes exceeds the 100000000-byte (100 MB) limit");
    }

    @Test
    void rejectsHeaderLengthWithTopBitSetAsOver100MB() throws IOException {
        CraftedSafetensors.write(file(), -1L, "{}".getBytes(StandardCharsets.UTF_8), new byte[0]);
        assertThat(catchRejection().getMessage()).contains("header length 18446744073709551615 bytes exceeds");
    }

    @Test
    void rejectsNonUtf8Header() throws IOException {
        byte[] header = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        CraftedSafetensors.write(file(), header.length, header, new byte[0]);
        assertThat(catchRejection().getMessage()).contains("header is not valid UTF-8 (at header byte 2)");
    }

    @Test
    void rejectsHeaderThatIsNotAnObject() throws IOException {
        assertThat(rejection("[1,2]", new byte[0]).getMessage()).contains("header must be a JSON object");
    }

    @Test
    void rejectsTruncatedJson() throws IOException {
        assertThat(rejection("{\"a\":{\"dtype\":\"F32\"", new byte[0]).getMessage()).contains("header is not valid JSON");
    }

    @Test
    void rejectsTextAfterHeaderObject() throws IOException {
        assertThat(rejection("{} {}", new byte[0]).getMessage()).contains("header is not valid JSON");
    }

    @Test
    void rejectsDuplicateTensorNames() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        assertThat(rejection(header, CraftedSafetensors.f32(1, 2)).getMessage())
                .contains("duplicate tensor names are not allowed").contains("\"w\"");
    }

    @Test
    void rejectsTensorPastEndOfFile() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
        assertThat(rejection(header, CraftedSafetensors.f32(1, 2)).getMessage())
                .contains("tensor 'w' ends at data byte 16, past the end of the file (data section holds 8 bytes)");
    }

    @Test
    void rejectsGapBetweenTensors() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
        assertThat(rejection(header, CraftedSafetensors.f32(1, 2, 3)).getMessage())
                .contains("gap of 4 bytes before tensor 'b' (data bytes 4..8, after tensor 'a')");
    }

    @Test
    void rejectsFirstTensorNotAtDataStart() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        assertThat(rejection(header, CraftedSafetensors.f32(1, 2)).getMessage())
                .contains("gap of 4 bytes before tensor 'a' (data bytes 0..4, before the first tensor)");
    }

    @Test
    void rejectsOverlappingTensors() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        assertThat(rejection(header, CraftedSafetensors.f32(1, 2, 3)).getMessage())
                .contains("tensor 'b' (data bytes 4..12) overlaps tensor 'a' (data bytes 0..8)");
    }

    @Test
    void rejectsBytesAfterLastTensor() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        assertThat(rejection(header, CraftedSafetensors.f32(1, 2)).getMessage())
                .contains("4 bytes after the last tensor 'a'");
    }

    @Test
    void rejectsShapeThatOverflows() throws IOException {
        String header = "{\"big\":{\"dtype\":\"BF16\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}";
        assertThat(rejection(header, new byte[8]).getMessage())
                .contains("tensor 'big': shape [4611686018427387904, 4] of BF16 overflows a 64-bit byte count");
    }

    @Test
    void rejectsByteLengthNotMatchingShape() throws IOException {
        String header = "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,8]}}";
        assertThat(rejection(header, new byte[8]).getMessage())
                .contains("tensor 'w': data_offsets [0,8] span 8 bytes, but shape [2, 3] of BF16 needs 12");
    }

    @Test
    void rejectsUnsupportedDtype() throws IOException {
        String header = "{\"ids\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}";
        assertThat(rejection(header, new byte[8]).getMessage())
                .contains("tensor 'ids': dtype 'I64' is not supported (supported: BF16, F16, F32)");
    }

    @Test
    void rejectsNegativeDimension() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}";
        assertThat(rejection(header, new byte[4]).getMessage())
                .contains("tensor 'w': field 'shape' must hold non-negative integers, got [-1]");
    }

    @Test
    void rejectsFractionalDimension() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}";
        assertThat(rejection(header, new byte[4]).getMessage()).contains("tensor 'w': field 'shape' must hold non-negative integers");
    }

    @Test
    void rejectsEntryWithoutDtype() throws IOException {
        String header = "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}";
        assertThat(rejection(header, new byte[4]).getMessage()).contains("tensor 'w': field 'dtype' is missing");
    }

    @Test
    void rejectsEntryWithoutDataOffsets() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}";
        assertThat(rejection(header, new byte[4]).getMessage()).contains("tensor 'w': field 'data_offsets' must be an array [begin, end]");
    }

    @Test
    void rejectsOffsetsThatEndBeforeTheyBegin() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}";
        assertThat(rejection(header, new byte[4]).getMessage()).contains("tensor 'w': data_offsets [4,0] end before they begin");
    }

    @Test
    void rejectsNonStringMetadataValue() throws IOException {
        String header = "{\"__metadata__\":{\"format\":1}}";
        assertThat(rejection(header, new byte[0]).getMessage()).contains("'__metadata__' entry 'format' must be a string, got 1");
    }

    @Test
    void acceptsEmptyCheckpointWithOnlyMetadata() throws IOException {
        CraftedSafetensors.write(file(), "{\"__metadata__\":{}}", new byte[0]);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertThat(c.tensorNames()).isEmpty();
            assertThat(c.totalBytes()).isZero();
        }
    }

    @Test
    void rejectsDirectoryWithoutCheckpoint() {
        assertThatThrownBy(() -> Checkpoint.open(dir)).isInstanceOf(SafetensorsException.class)
                .hasMessageContaining(dir + ": holds neither model.safetensors nor model.safetensors.index.json");
    }
}

package qwenchat.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {

    @TempDir
    Path dir;

    @Test
    void writesSpecLayoutWithSpacePaddedHeaderAndInsertionOrder() throws IOException {
        Path file = dir.resolve("model.safetensors");
        new SafetensorsWriter()
                .addF32("z", List.of(1L), new float[] {1f})
                .addBf16("a", List.of(2L), new float[] {1f, -2f})
                .write(file, Map.of("format", "pt"));
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        String expectedJson = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]}}";
        assertThat(n % 8).isZero();
        assertThat(n).isEqualTo((expectedJson.length() + 7) / 8 * 8);
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertThat(header).startsWith(expectedJson);
        assertThat(header.substring(expectedJson.length())).matches(" *");
        // 1.0f = 0x3F800000 little-endian; bf16 1 = 0x3F80, -2 = 0xC000.
        byte[] data = Arrays.copyOfRange(bytes, 8 + (int) n, bytes.length);
        assertThat(data).containsExactly(0, 0, (byte) 0x80, 0x3F, (byte) 0x80, 0x3F, 0x00, (byte) 0xC0);
    }

    @Test
    void roundTripsBf16F16AndF32ValuesExactly() {
        float[] bf16Values = {0f, -0f, 1f, -1.5f, 3.140625f, Float.intBitsToFloat(0x1E3C0000) /* ~1e-20, exact in bf16 */,
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 65536f, Float.intBitsToFloat(0x00010000)};
        float[] f16Values = {0f, 1f, -0.5f, 65504f, 5.9604645e-8f /* smallest subnormal */, 0.099975586f, Float.NEGATIVE_INFINITY};
        float[] f32Values = {Float.MIN_VALUE, Float.MAX_VALUE, -123.456f, (float) Math.PI, Float.NaN};
        Path file = dir.resolve("model.safetensors");
        new SafetensorsWriter()
                .addBf16("bf", List.of(2L, 5L), bf16Values)
                .addF16("h", List.of(7L), f16Values)
                .addF32("f", List.of(5L, 1L), f32Values)
                .write(file, null);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertThat(c.info("bf").dtype()).isEqualTo(DType.BF16);
            assertThat(c.info("h").dtype()).isEqualTo(DType.F16);
            assertThat(c.info("f").shape()).containsExactly(5L, 1L);
            assertThat(c.tensor("bf").toFloatArray()).containsExactly(bf16Values);
            assertThat(c.tensor("h").toFloatArray()).containsExactly(f16Values);
            float[] f = c.tensor("f").toFloatArray();
            assertThat(Arrays.copyOf(f, 4)).containsExactly(Arrays.copyOf(f32Values, 4));
            assertThat(f[4]).isNaN();
            assertThat(c.tensor("bf").getFloat(7)).isEqualTo(Float.NEGATIVE_INFINITY);
            float[] row = new float[5];
            c.tensor("bf").readRow(1, row, 0);
            assertThat(row).containsExactly(Arrays.copyOfRange(bf16Values, 5, 10));
        }
    }

    @Test
    void storesBf16ByRoundingToNearestEven() throws IOException {
        // Each value's bits, and the bf16 bits round-to-nearest-even gives.
        int[][] cases = {
                {0x3F808000, 0x3F80},   // exactly half-way, 0x3F80 is even: down
                {0x3F818000, 0x3F82},   // exactly half-way, 0x3F81 is odd: up
                {0x3F808001, 0x3F81},   // just above half-way: up
                {0x3F807FFF, 0x3F80},   // just below half-way: down
                {0xBF808000, 0xBF80},   // sign does not change the rule
                {0x7F7FFFFF, 0x7F80},   // largest float rounds to infinity, as in PyTorch
                {0x00000001, 0x0000},   // smallest subnormal rounds to zero
        };
        float[] values = new float[cases.length];
        for (int i = 0; i < cases.length; i++) values[i] = Float.intBitsToFloat(cases[i][0]);
        Path file = dir.resolve("model.safetensors");
        new SafetensorsWriter().addBf16("t", List.of((long) cases.length), values).write(file, null);
        try (Checkpoint c = Checkpoint.open(dir)) {
            ByteBuffer seg = c.tensor("t").segment(0);
            for (int i = 0; i < cases.length; i++) {
                assertThat(seg.getShort(2 * i) & 0xFFFF).as("bf16 of 0x%08X", cases[i][0]).isEqualTo(cases[i][1]);
            }
        }
    }

    @Test
    void keepsNanAsNanInBf16EvenWhenOnlyLowMantissaBitsAreSet() {
        float lowNan = Float.intBitsToFloat(0x7F800001);   // truncating would give +inf
        float negNan = Float.intBitsToFloat(0xFFC00000);
        assertThat(Bf16.toFloat(Bf16.fromFloat(lowNan))).isNaN();
        assertThat(Bf16.fromFloat(negNan) & 0xFFFF).isEqualTo(0xFFC0);
        assertThat(Bf16.toFloat(Bf16.fromFloat(Float.NaN))).isNaN();
    }

    @Test
    void rejectsValueCountNotMatchingShape() {
        assertThatThrownBy(() -> new SafetensorsWriter().addBf16("w", List.of(2L, 3L), new float[5]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tensor 'w': 5 values given, shape [2, 3] holds 6");
    }

    @Test
    void rejectsTensorAddedTwice() {
        SafetensorsWriter w = new SafetensorsWriter().addF32("w", List.of(1L), new float[1]);
        assertThatThrownBy(() -> w.addF32("w", List.of(1L), new float[1]))
                .hasMessageContaining("tensor 'w' was already added");
    }

    @Test
    void rawBytesAreWrittenVerbatim() {
        byte[] raw = {0x00, 0x3C, 0x00, (byte) 0xC0};   // f16 1.0, -2.0
        new SafetensorsWriter().addRaw("h", DType.F16, List.of(2L), raw).write(dir.resolve("model.safetensors"), Map.of());
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertThat(c.tensor("h").toFloatArray()).containsExactly(1f, -2f);
        }
    }
}

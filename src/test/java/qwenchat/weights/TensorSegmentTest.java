package qwenchat.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mapping in whole-row segments, so tensors over 2 GB (one FileChannel.map at most) still read right. */
class TensorSegmentTest {

    @TempDir
    Path dir;

    private static float value(long i) {
        return (float) (i * 0.5 - 7);   // exact in bf16 for the small indices used here
    }

    @Test
    void splitsTensorIntoWholeRowSegmentsAndReadsEveryElement() {
        long layers = 2, rows = 5, cols = 3;   // 10 rows of 3 bf16 = 6 bytes each
        float[] values = new float[(int) (layers * rows * cols)];
        for (int i = 0; i < values.length; i++) values[i] = value(i);
        new SafetensorsWriter()
                .addF32("before", List.of(1L), new float[] {42f})
                .addBf16("w", List.of(layers, rows, cols), values)
                .write(dir.resolve("model.safetensors"), null);
        // 4 rows (24 bytes) fit a 27-byte segment: segments of 4, 4 and 2 rows.
        try (Checkpoint c = Checkpoint.open(dir, 27)) {
            Tensor t = c.tensor("w");
            assertThat(t.rows()).isEqualTo(10);
            assertThat(t.columns()).isEqualTo(3);
            assertThat(t.segmentCount()).isEqualTo(3);
            assertThat(t.rowsPerSegment()).isEqualTo(4);
            assertThat(t.segmentRows(2)).isEqualTo(2);
            assertThat(t.segment(0).capacity()).isEqualTo(24);
            assertThat(t.segment(2).capacity()).isEqualTo(12);
            for (int s = 0; s < 3; s++) {
                ByteBuffer seg = t.segment(s);
                assertThat(seg.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
                assertThat(seg.isReadOnly()).isTrue();
                assertThat(seg.position()).isZero();
                assertThat(Bf16.toFloat(seg.getShort(0))).isEqualTo(value(s * 4 * cols));
            }
            for (int i = 0; i < values.length; i++) assertThat(t.getFloat(i)).isEqualTo(values[i]);
            float[] row = new float[5];
            t.readRow(9, row, 2);
            assertThat(row).containsExactly(0, 0, value(27), value(28), value(29));
            assertThat(t.toFloatArray()).containsExactly(values);
            assertThat(c.tensor("before").toFloatArray()).containsExactly(42f);
        }
    }

    @Test
    void mapsOneSegmentWhenTensorFits() {
        new SafetensorsWriter().addBf16("w", List.of(4L, 2L), new float[8]).write(dir.resolve("model.safetensors"), null);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertThat(c.tensor("w").segmentCount()).isEqualTo(1);
            assertThat(c.tensor("w").rowsPerSegment()).isEqualTo(4);
        }
    }

    @Test
    void oneDimensionalTensorIsOneRow() {
        new SafetensorsWriter().addF32("norm", List.of(3L), new float[] {1, 2, 3}).write(dir.resolve("model.safetensors"), null);
        try (Checkpoint c = Checkpoint.open(dir)) {
            Tensor t = c.tensor("norm");
            assertThat(t.rows()).isEqualTo(1);
            assertThat(t.columns()).isEqualTo(3);
        }
    }

    @Test
    void rejectsRowLargerThanSegmentLimit() {
        new SafetensorsWriter().addF32("w", List.of(2L, 4L), new float[8]).write(dir.resolve("model.safetensors"), null);
        try (Checkpoint c = Checkpoint.open(dir, 15)) {
            assertThatThrownBy(() -> c.tensor("w")).isInstanceOf(SafetensorsException.class)
                    .hasMessageContaining("tensor 'w' has rows of 16 bytes, more than one mapped segment can hold (15)");
        }
    }

    @Test
    void readsTensorLargerThan2GBAcrossSegments() throws IOException {
        // A 3 GiB F32 tensor [768][1M] in a sparse file: only the values written here occupy disk.
        long rows = 768, cols = 1L << 20, bytes = rows * cols * 4;
        String json = "{\"big\":{\"dtype\":\"F32\",\"shape\":[" + rows + "," + cols + "],\"data_offsets\":[0," + bytes + "]}}";
        Path file = CraftedSafetensors.write(dir.resolve("model.safetensors"), json, new byte[0]);
        long dataStart = 8 + json.length();
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(dataStart + bytes);
            writeFloatAt(raf, dataStart + (510 * cols + 5) * 4, 1.25f);       // last row of segment 0
            writeFloatAt(raf, dataStart + (511 * cols) * 4, -3.5f);           // first row of segment 1
            writeFloatAt(raf, dataStart + bytes - 4, 9f);                      // very last element
        }
        try (Checkpoint c = Checkpoint.open(dir)) {
            Tensor t = c.tensor("big");
            assertThat(t.segmentCount()).isEqualTo(2);
            assertThat(t.rowsPerSegment()).isEqualTo(511);                    // 511 rows of 4 MiB fit 2^31-1 bytes
            assertThat(t.getFloat(510 * cols + 5)).isEqualTo(1.25f);
            assertThat(t.getFloat(511 * cols)).isEqualTo(-3.5f);
            assertThat(t.getFloat(rows * cols - 1)).isEqualTo(9f);
            assertThat(t.segment(1).getFloat(0)).isEqualTo(-3.5f);
            float[] last = new float[(int) cols];
            t.readRow(rows - 1, last, 0);
            assertThat(last[(int) cols - 1]).isEqualTo(9f);
            assertThat(last[0]).isZero();
        }
    }

    private static void writeFloatAt(RandomAccessFile raf, long pos, float v) throws IOException {
        raf.seek(pos);
        raf.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(v).array());
    }
}

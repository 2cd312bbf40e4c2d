package qwenchat.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoints split over shards by model.safetensors.index.json. */
class ShardedCheckpointTest {

    @TempDir
    Path root;

    private Path model() throws IOException {
        return Files.createDirectories(root.resolve("model"));
    }

    /** Three shards: a, b in the first; c in the second; d, e in the third. */
    private Path writeThreeShards() throws IOException {
        Path dir = model();
        new SafetensorsWriter()
                .addBf16("a", List.of(2L, 2L), new float[] {1, 2, 3, 4})
                .addF32("b", List.of(1L), new float[] {5})
                .write(dir.resolve("model-00001-of-00003.safetensors"), null);
        new SafetensorsWriter()
                .addF16("c", List.of(3L), new float[] {6, 7, 8})
                .write(dir.resolve("model-00002-of-00003.safetensors"), null);
        new SafetensorsWriter()
                .addBf16("d", List.of(1L, 2L), new float[] {9, 10})
                .addBf16("e", List.of(2L), new float[] {11, 12})
                .write(dir.resolve("model-00003-of-00003.safetensors"), null);
        return dir;
    }

    private static void writeIndex(Path dir, String weightMapEntries) throws IOException {
        Files.writeString(dir.resolve("model.safetensors.index.json"),
                "{\"metadata\":{\"total_size\":36},\"weight_map\":{" + weightMapEntries + "}}");
    }

    private static final String FULL_MAP = "\"a\":\"model-00001-of-00003.safetensors\","
            + "\"b\":\"model-00001-of-00003.safetensors\","
            + "\"c\":\"model-00002-of-00003.safetensors\","
            + "\"d\":\"model-00003-of-00003.safetensors\","
            + "\"e\":\"model-00003-of-00003.safetensors\"";

    @Test
    void readsTensorsAcrossThreeShards() throws IOException {
        Path dir = writeThreeShards();
        writeIndex(dir, FULL_MAP);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertThat(c.tensorNames()).containsExactly("a", "b", "c", "d", "e");
            assertThat(c.info("c").file()).isEqualTo(dir.resolve("model-00002-of-00003.safetensors"));
            assertThat(c.tensor("a").toFloatArray()).containsExactly(1, 2, 3, 4);
            assertThat(c.tensor("b").toFloatArray()).containsExactly(5);
            assertThat(c.tensor("c").toFloatArray()).containsExactly(6, 7, 8);
            assertThat(c.tensor("d").toFloatArray()).containsExactly(9, 10);
            assertThat(c.tensor("e").toFloatArray()).containsExactly(11, 12);
            assertThat(c.totalBytes()).isEqualTo(8 + 4 + 6 + 4 + 4);
        }
    }

    @Test
    void prefersSingleFileOverIndexAsTransformersDoes() throws IOException {
        Path dir = writeThreeShards();
        writeIndex(dir, FULL_MAP);
        new SafetensorsWriter().addF32("only", List.of(1L), new float[] {3f}).write(dir.resolve("model.safetensors"), null);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertThat(c.tensorNames()).containsExactly("only");
        }
    }

    @Test
    void opensOneShardFileGivenDirectly() throws IOException {
        Path dir = writeThreeShards();
        try (Checkpoint c = Checkpoint.open(dir.resolve("model-00003-of-00003.safetensors"))) {
            assertThat(c.tensorNames()).containsExactly("d", "e");
            assertThat(c.tensor("e").toFloatArray()).containsExactly(11, 12);
        }
    }

    @Test
    void openingMapsNothingAndMapsEachTensorOnceOnDemand() throws IOException {
        Path dir = writeThreeShards();
        writeIndex(dir, FULL_MAP);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertThat(c.mappedCount()).isZero();
            Tensor first = c.tensor("d");
            assertThat(c.mappedCount()).isEqualTo(1);
            assertThat(c.tensor("d")).isSameAs(first);
            assertThat(c.mappedCount()).isEqualTo(1);
        }
    }

    @Test
    void refusesTensorsAfterClose() throws IOException {
        Path dir = writeThreeShards();
        writeIndex(dir, FULL_MAP);
        Checkpoint c = Checkpoint.open(dir);
        c.close();
        assertThatThrownBy(() -> c.tensor("a")).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    void rejectsShardPathTraversal() throws IOException {
        Path dir = writeThreeShards();
        new SafetensorsWriter().addF32("x", List.of(1L), new float[1]).write(root.resolve("outside.safetensors"), null);
        writeIndex(dir, "\"x\":\"../outside.safetensors\"");
        assertThatThrownBy(() -> Checkpoint.open(dir)).isInstanceOf(SafetensorsException.class)
                .hasMessageContaining("model.safetensors.index.json: weight_map entry for tensor 'x' names shard '../outside.safetensors'")
                .hasMessageContaining("not a plain file name inside the model directory");
    }

    @Test
    void rejectsAbsoluteShardPath() throws IOException {
        Path dir = writeThreeShards();
        Path outside = root.resolve("outside.safetensors").toAbsolutePath();
        new SafetensorsWriter().addF32("x", List.of(1L), new float[1]).write(outside, null);
        writeIndex(dir, "\"x\":\"" + outside + "\"");
        assertThatThrownBy(() -> Checkpoint.open(dir)).hasMessageContaining("tensor 'x' names shard '" + outside + "'")
                .hasMessageContaining("not a plain file name");
    }

    @Test
    void rejectsBackslashInShardName() throws IOException {
        Path dir = writeThreeShards();
        writeIndex(dir, "\"x\":\"..\\\\outside.safetensors\"");
        assertThatThrownBy(() -> Checkpoint.open(dir)).hasMessageContaining("tensor 'x' names shard '..\\outside.safetensors'")
                .hasMessageContaining("not a plain file name");
    }

    @Test
    void acceptsShardSymlinksIntoHubBlobStore() throws IOException {
        // The layout of a Hugging Face hub cache snapshot: shards are links to ../../blobs/<sha>.
        Path blobs = Files.createDirectories(root.resolve("hub/blobs"));
        Path snapshot = Files.createDirectories(root.resolve("hub/snapshots/abc"));
        new SafetensorsWriter().addF32("x", List.of(2L), new float[] {1, 2}).write(blobs.resolve("sha1"), null);
        new SafetensorsWriter().addF32("y", List.of(1L), new float[] {3}).write(blobs.resolve("sha2"), null);
        Files.createSymbolicLink(snapshot.resolve("model-00001-of-00002.safetensors"), Path.of("../../blobs/sha1"));
        Files.createSymbolicLink(snapshot.resolve("model-00002-of-00002.safetensors"), Path.of("../../blobs/sha2"));
        writeIndex(snapshot, "\"x\":\"model-00001-of-00002.safetensors\",\"y\":\"model-00002-of-00002.safetensors\"");
        try (Checkpoint c = Checkpoint.open(snapshot)) {
            assertThat(c.tensor("x").toFloatArray()).containsExactly(1, 2);
            assertThat(c.tensor("y").toFloatArray()).containsExactly(3);
        }
    }

    @Test
    void acceptsShardSymlinkInsideModelDirectory() throws IOException {
        Path dir = writeThreeShards();
        Files.createSymbolicLink(dir.resolve("alias.safetensors"), dir.resolve("model-00002-of-00003.safetensors"));
        writeIndex(dir, "\"c\":\"alias.safetensors\"");
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertThat(c.tensor("c").toFloatArray()).containsExactly(6, 7, 8);
        }
    }

    @Test
    void rejectsMissingShard() throws IOException {
        Path dir = writeThreeShards();
        writeIndex(dir, FULL_MAP + ",\"f\":\"model-00004-of-00003.safetensors\"");
        assertThatThrownBy(() -> Checkpoint.open(dir))
                .hasMessageContaining("weight_map entry for tensor 'f' names shard 'model-00004-of-00003.safetensors', which is missing");
    }

    @Test
    void rejectsTensorListedInIndexButAbsentFromShard() throws IOException {
        Path dir = writeThreeShards();
        writeIndex(dir, FULL_MAP + ",\"ghost\":\"model-00002-of-00003.safetensors\"");
        assertThatThrownBy(() -> Checkpoint.open(dir))
                .hasMessageContaining("1 tensor(s) listed in weight_map are absent from their shard: ghost (in model-00002-of-00003.safetensors)");
    }

    @Test
    void rejectsTensorInShardButNotInIndex() throws IOException {
        Path dir = writeThreeShards();
        writeIndex(dir, FULL_MAP.replace(",\"e\":\"model-00003-of-00003.safetensors\"", ""));
        assertThatThrownBy(() -> Checkpoint.open(dir))
                .hasMessageContaining("model-00003-of-00003.safetensors: tensor 'e' is in this shard but not listed in");
    }

    @Test
    void rejectsTensorIndexedToTheWrongShard() throws IOException {
        Path dir = writeThreeShards();
        writeIndex(dir, FULL_MAP.replace("\"c\":\"model-00002", "\"c\":\"model-00001").replace("\"b\":\"model-00001", "\"b\":\"model-00002"));
        assertThatThrownBy(() -> Checkpoint.open(dir))
                .hasMessageContaining("model-00001-of-00003.safetensors: tensor 'b' is in this shard but ")
                .hasMessageContaining("places it in model-00002-of-00003.safetensors");
    }

    @Test
    void rejectsIndexWithoutWeightMap() throws IOException {
        Path dir = writeThreeShards();
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"metadata\":{}}");
        assertThatThrownBy(() -> Checkpoint.open(dir)).hasMessageContaining("field 'weight_map' is missing or not an object");
    }

    @Test
    void rejectsTensorListedTwiceInIndex() throws IOException {
        Path dir = writeThreeShards();
        writeIndex(dir, FULL_MAP + ",\"a\":\"model-00001-of-00003.safetensors\"");
        assertThatThrownBy(() -> Checkpoint.open(dir)).hasMessageContaining("model.safetensors.index.json: not valid JSON: Duplicate")
                .hasMessageContaining("\"a\"");
    }

    @Test
    void rejectsBrokenShardNamingIt() throws IOException {
        Path dir = writeThreeShards();
        writeIndex(dir, FULL_MAP);
        Files.write(dir.resolve("model-00002-of-00003.safetensors"), new byte[] {1, 0, 0, 0, 0, 0, 0, 0, '['});
        assertThatThrownBy(() -> Checkpoint.open(dir))
                .hasMessageContaining("model-00002-of-00003.safetensors: header must be a JSON object");
    }
}

package qwenchat.weights;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointSummaryTest {

    @TempDir
    Path dir;

    @Test
    void groupsLayersIntoFamiliesWithCountsBytesAndDtypes() {
        new SafetensorsWriter()
                .addBf16("model.embed_tokens.weight", List.of(4L, 2L), new float[8])
                .addBf16("model.layers.0.mlp.up_proj.weight", List.of(3L, 2L), new float[6])
                .addF32("model.layers.0.input_layernorm.weight", List.of(2L), new float[2])
                .addBf16("model.layers.1.mlp.up_proj.weight", List.of(3L, 2L), new float[6])
                .addF16("model.layers.1.input_layernorm.weight", List.of(2L), new float[2])
                .write(dir.resolve("model.safetensors"), null);
        try (Checkpoint c = Checkpoint.open(dir)) {
            CheckpointSummary s = c.summary();
            assertThat(s.families().keySet()).containsExactly("model.embed_tokens.weight",
                    "model.layers.*.input_layernorm.weight", "model.layers.*.mlp.up_proj.weight");
            assertThat(s.families().get("model.layers.*.mlp.up_proj.weight"))
                    .isEqualTo(new CheckpointSummary.Family(2, 24, 12, List.of(DType.BF16)));
            assertThat(s.families().get("model.layers.*.input_layernorm.weight"))
                    .isEqualTo(new CheckpointSummary.Family(2, 8 + 4, 4, List.of(DType.F16, DType.F32)));
            assertThat(s.tensorCount()).isEqualTo(5);
            assertThat(s.totalBytes()).isEqualTo(16 + 24 + 12).isEqualTo(c.totalBytes());
            assertThat(s.totalElements()).isEqualTo(8 + 12 + 4);
            assertThat(s.dtypes()).containsEntry(DType.BF16, 3L).containsEntry(DType.F32, 1L).containsEntry(DType.F16, 1L);
        }
    }
}

package qwenchat.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import qwenchat.weights.ModelDirectory;
import qwenchat.weights.Checkpoint;

class BiasNormReaderTest {

    static final Path MODEL = Path.of("src/test/resources/reference/tiny-untied-hd64-g2");

    @Test
    void normsMatchTheBiasTensorsLayerByLayer() {
        ModelDirectory dir = ModelDirectory.resolve(MODEL);
        try (Checkpoint c = dir.openCheckpoint()) {
            int layers = dir.config().numHiddenLayers();
            ModelCard.BiasNorms n = BiasNormReader.read(c, layers);
            assertThat(n.q()).hasSize(layers);
            for (int i = 0; i < layers; i++) {
                float[] k = c.tensor("model.layers." + i + ".self_attn.k_proj.bias").toFloatArray();
                double sum = 0;
                for (float x : k) sum += x * x;
                assertThat(n.k().get(i)).isCloseTo(Math.sqrt(sum), org.assertj.core.data.Offset.offset(1e-9));
                assertThat(n.q().get(i)).isPositive();
                assertThat(n.v().get(i)).isPositive();
            }
        }
    }

    @Test
    void l2OfAKnownVector() {
        assertThat(BiasNormReader.l2(new float[] {3, 4})).isEqualTo(5.0);
        assertThat(BiasNormReader.l2(new float[0])).isZero();
    }
}

package qwenchat.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import qwenchat.demo.SyntheticCheckpoint;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.model.ModelConfig;
import qwenchat.model.RopeScalingSetting;
import qwenchat.weights.Checkpoint;

/** qwen.rope-scaling=yarn:N reaches the CPU engine's rotary embedding. */
class RopeScalingSettingEngineTest {

    static final int NATIVE = 16;

    @TempDir
    Path tmp;

    @Test
    void yarnChangesTheLogitsPastTheNativeContextOfATinyCheckpoint() {
        SyntheticCheckpoint.Shape shape = new SyntheticCheckpoint.Shape("tiny-rope", 64, 96, 2, 4, 2, 300, false);
        ModelConfig loaded = SyntheticCheckpoint.ensure(shape, tmp.resolve("s"), 5).config();
        // The same weights with a native window of 16 positions, so 4x YaRN matters from position 16 on.
        ModelConfig plain = new ModelConfig(loaded.modelType(), loaded.hiddenSize(), loaded.intermediateSize(),
                loaded.numHiddenLayers(), loaded.numAttentionHeads(), loaded.numKeyValueHeads(), loaded.headDim(),
                loaded.vocabSize(), NATIVE, loaded.ropeTheta(), loaded.rmsNormEps(), loaded.tieWordEmbeddings(), null,
                loaded.torchDtype());
        ModelConfig yarn = RopeScalingSetting.parse("yarn:4").applyTo(plain);
        assertThat(yarn.contextLength()).isEqualTo(4 * NATIVE);

        int[] prompt = new Random(7).ints(3 * NATIVE, 0, shape.vocab()).toArray();
        float[][] a;
        float[][] b;
        try (Checkpoint ckpt = Checkpoint.open(tmp.resolve("s"))) {
            // Without scaling the engine extrapolates past 16 positions, as transformers would.
            try (CpuEngine e = CpuEngine.load(plain, ckpt, new KvCacheCapacity(1, prompt.length))) {
                a = logitsOf(e, prompt);
            }
            try (CpuEngine e = CpuEngine.load(yarn, ckpt, new KvCacheCapacity(1, yarn.contextLength()))) {
                b = logitsOf(e, prompt);
            }
        }
        assertThat(b).hasNumberOfRows(prompt.length);
        for (int p = NATIVE; p < prompt.length; p++) {
            assertThat(b[p]).as("logits at position %d", p).isNotEqualTo(a[p]);
        }
    }

    private static float[][] logitsOf(CpuEngine e, int[] prompt) {
        return e.prefillLogits(e.openSequence(), prompt, true);
    }
}

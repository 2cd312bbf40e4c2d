package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.StepRequest;
import qwenchat.engine.kv.KvCacheSizing;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.ModelConfig;
import qwenchat.model.ModelConfigParser;
import qwenchat.weights.Checkpoint;

/**
 * Qwen2.5-7B with the serving defaults (0.90 of device memory, 256 sequences, its full 32K context
 * per sequence, blocks of 64) on a simulated 24 GB card: the pool gets what weights and workspace
 * leave, and the engine loads and serves where reserving whole contexts per sequence could not.
 * Runs on the random 7B checkpoint of the 7b stage (QWEN_7B_DIR).
 */
@Tag("gpu")
@Tag("gpu7b")
class Qwen7bOn24GbTest {
    static final long CARD_24GB = 24L << 30;

    @Test
    void sevenBWithDefaultSettingsStartsOnA24GbCardAndServesManySequences() throws Exception {
        String dirName = System.getenv("QWEN_7B_DIR");
        Assumptions.assumeTrue(dirName != null && Files.isRegularFile(Path.of(dirName, "config.json")),
                "QWEN_7B_DIR not set (make_7b_reference.py builds the random 7B checkpoint)");
        GpuTestSupport.assumeGpu();
        Path dir = Path.of(dirName);
        ModelConfig c = ModelConfigParser.parseConfig(dir.resolve("config.json"));
        String old = System.getProperty(CudaEngine.SIMULATE_DEVICE_MEMORY);
        System.setProperty(CudaEngine.SIMULATE_DEVICE_MEMORY, Long.toString(CARD_24GB));
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            int seqs = 256;
            int perSequence = c.contextLength();
            int blockSize = KvCacheCapacity.DEFAULT_BLOCK_SIZE;
            long budget = CudaEngine.kvBudgetBytes(0, c, 0.90, seqs, perSequence, 16);
            KvCacheSizing sizing = KvCacheSizing.of(budget, KvCacheSizing.bytesPerToken(c, 2), blockSize, perSequence);
            System.out.println("[24gb] " + sizing.logLine());
            KvCacheCapacity cap = new KvCacheCapacity(seqs, sizing.maxTokensPerSequence(), blockSize, sizing.totalBlocks());
            // Whole contexts reserved per sequence would need 256 x 32K tokens: over 400 GiB.
            assertTrue(KvCacheCapacity.fullyBacked(seqs, perSequence, blockSize).totalTokens() > 20 * cap.totalTokens());
            try (CudaEngine e = CudaEngine.load(c, ckpt, cap, LoadProgressListener.NONE)) {
                long used = e.info().weightBytes() + e.info().kvCacheBytes() + e.info().workspaceBytes();
                System.out.printf("[24gb] weights %.2f GiB + KV %.2f GiB + workspace %.2f GiB = %.2f GiB of a simulated 24 GiB%n",
                        gib(e.info().weightBytes()), gib(e.info().kvCacheBytes()), gib(e.info().workspaceBytes()), gib(used));
                assertTrue(used <= 0.90 * CARD_24GB, "the engine takes " + gib(used) + " GiB, over 0.90 of 24 GiB");
                assertTrue(sizing.totalTokens() >= 32 * 1024, "the pool should hold at least one full 32K context");
                // 64 sequences of 1K: they fit in the pool together and decode as one batch.
                SamplingParams g = SamplingParams.greedyDecoding();
                List<StepRequest> step = new ArrayList<>();
                int[] ids = new int[64];
                for (int i = 0; i < 64; i++) {
                    ids[i] = e.openSequence();
                    int[] prompt = new int[1024];
                    for (int j = 0; j < prompt.length; j++) prompt[j] = 3 + (i * 131 + j * 7) % 30000;
                    int tok = e.step(List.of(StepRequest.prefill(ids[i], prompt, g, 0))).get(0).token();
                    step.add(StepRequest.decode(ids[i], tok, g, 0));
                }
                var out = e.step(step);
                assertEquals(64, out.size());
                for (int s : ids) assertEquals(1025, e.sequenceLength(s));
            }
        } finally {
            if (old == null) System.clearProperty(CudaEngine.SIMULATE_DEVICE_MEMORY);
            else System.setProperty(CudaEngine.SIMULATE_DEVICE_MEMORY, old);
        }
    }

    static double gib(long b) {
        return b / (double) (1L << 30);
    }
}

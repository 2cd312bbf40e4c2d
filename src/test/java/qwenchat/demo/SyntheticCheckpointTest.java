package qwenchat.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.cpu.CpuEngine;
import qwenchat.model.ModelConfig;
import qwenchat.weights.ModelDirectory;
import qwenchat.weights.Checkpoint;

class SyntheticCheckpointTest {

    @TempDir
    Path tmp;

    @Test
    void writesAValidCheckpointOfTheShapeThatTheEngineRuns() {
        SyntheticCheckpoint.Shape shape = new SyntheticCheckpoint.Shape("tiny", 64, 96, 2, 4, 2, 300, false);
        ModelDirectory m = SyntheticCheckpoint.ensure(shape, tmp.resolve("s"), 3);
        ModelConfig c = m.config();
        assertEquals(16, c.headDim());
        assertEquals(2, c.groupSize());
        try (Checkpoint ckpt = m.openCheckpoint();
                CpuEngine e = CpuEngine.load(c, ckpt, new KvCacheCapacity(1, 8))) {
            long vectors = 2L * (shape.layers() * (2L * shape.hidden() + c.qkvDim()) + shape.hidden());
            assertEquals(shape.weightBytes() + vectors, ckpt.totalBytes());
            float[] logits = e.prefillLogits(e.openSequence(), new int[] {1, 2, 299}, false)[0];
            assertEquals(300, logits.length);
            for (float f : logits) assertTrue(Float.isFinite(f));
        }
    }

    @Test
    void qwen25HalfBillionShapeHasItsPublishedParameterCount() {
        SyntheticCheckpoint.Shape s = SyntheticCheckpoint.QWEN25_0_5B;
        // Qwen2.5-0.5B: 0.49B parameters, 0.36B without embeddings (its model card)
        long embedding = (long) s.vocab() * s.hidden();
        long params = s.weightBytes() / 2;
        assertTrue(params > 480_000_000L && params < 500_000_000L, "parameters " + params);
        assertTrue(params - embedding > 350_000_000L && params - embedding < 365_000_000L);
    }
}

package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import qwenchat.engine.EngineException;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.model.ModelConfig;

class CudaEngineShapeTest {
    static ModelConfig config(int hidden, int heads, int kvHeads, int headDim) {
        return new ModelConfig("qwen2", hidden, 18944, 28, heads, kvHeads, headDim, 152064, 32768, 1e6, 1e-6, false, null,
                "bfloat16");
    }

    @Test
    void acceptsQwen7bShapes() {
        assertDoesNotThrow(() -> CudaEngine.checkShapes(config(3584, 28, 4, 128), new KvCacheCapacity(64, 32768)));
    }

    @Test
    void rejectsHeadDimWithoutAttentionKernelAndNamesIt() {
        var e = assertThrows(EngineException.class,
                () -> CudaEngine.checkShapes(config(3588, 26, 2, 138), new KvCacheCapacity(1, 128)));
        assertTrue(e.getMessage().contains("head_dim 138 is not 64 or 128"), e.getMessage());
        assertTrue(e.getMessage().contains("hidden_size 3588"), e.getMessage());
    }

    @Test
    void rejectsKvCacheLongerThanTheContext() {
        var e = assertThrows(EngineException.class,
                () -> CudaEngine.checkShapes(config(3584, 28, 4, 128), new KvCacheCapacity(1, 40000)));
        assertTrue(e.getMessage().contains("maxTokensPerSequence 40000"), e.getMessage());
    }

    @Test
    void attentionBreaksEvenWithTheProjectionsAtTheFlopRatioScaledByTheFlashKernelsSpeed() {
        // 7B: 2 * 3584 * (4608 + 3584 + 3 * 18944) projection FLOPs per token, 4 * 28 * 128 per earlier key.
        double flopRatio = 2.0 * 3584 * (4608 + 3584 + 3 * 18944) / (4.0 * 28 * 128);
        assertEquals(32512, Math.round(flopRatio));
        assertEquals(Math.round(flopRatio * CudaEngine.FLASH_SPEED_PER_FLOP),
                CudaEngine.attentionBreakEvenOf(config(3584, 28, 4, 128)));
        // A narrower model with the same heads reaches the break-even sooner: attention is a larger share.
        assertTrue(CudaEngine.attentionBreakEvenOf(config(896, 14, 2, 64)) < CudaEngine.attentionBreakEvenOf(config(3584, 28, 4, 128)));
    }

    @Test
    void aPrefillThatFitsTheWorkspaceIsOnePassAndALongerOneIsCutInWholeTiles() {
        int[][] cuts = {{1000, 8192}, {65, 8192}, {8192, 8192}, {10000, 8192}, {2500, 1000}, {1000, 64}};
        int[][] want = {{1000}, {65}, {8192}, {8192, 1808}, {896, 896, 708}, {64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
                64, 64, 64, 64, 64, 40}};
        for (int i = 0; i < cuts.length; i++) {
            java.util.List<Integer> got = new java.util.ArrayList<>();
            for (int left = cuts[i][0]; left > 0; ) {
                int n = CudaEngine.chunkLength(left, cuts[i][1]);
                got.add(n);
                left -= n;
            }
            org.junit.jupiter.api.Assertions.assertEquals(java.util.Arrays.toString(want[i]), got.toString(),
                    cuts[i][0] + " tokens in a workspace of " + cuts[i][1] + " rows");
        }
    }

    @Test
    void workspaceAndKvCacheSizesFollowTheShapes() {
        ModelConfig c = config(3584, 28, 4, 128);
        // K and V, 28 layers, 4 KV heads of 128 bf16 per token.
        long perToken = 2L * 28 * 4 * 128 * 2;
        assertEquals(30 * 64 * perToken, DeviceKvCache.totalBytes(c, 64, 30));
        assertEquals(16 * perToken, DeviceKvCache.blockBytes(c, 16));
        assertTrue(Workspace.bytes(c, 32768, true, 64) > Workspace.bytes(c, 1024, true, 64));
        assertTrue(Workspace.bytes(c, 32768, true, 256) > Workspace.bytes(c, 32768, true, 64));
        assertTrue(Workspace.chunkRows(c, 32768, true, 64) == 8192 && Workspace.chunkRows(c, 32768, false, 64) == 64);
    }

    @Test
    void skinnySplitKPartsCoverAWholeDecodePassOrAPrefillTailForTensShortOfAGibibyte() {
        assertEquals(256, Workspace.skinnyRows(256));
        assertEquals(SkinnyGemm.MAX_ROWS, Workspace.skinnyRows(64));
        assertEquals(SkinnyGemm.MAX_ROWS, Workspace.skinnyRows(16), "a short prefill tail may take a whole 64-row tile");
        long bytes = 4L * SkinnyGemm.partialFloats(Workspace.skinnyRows(256));
        assertTrue(bytes <= 64L << 20, bytes + " bytes of split-K parts at 256 rows");
    }

    @Test
    void bigCardsDecodeUpTo256RowsPerPassWhileSmallOnesKeepTheirMemoryForKv() {
        assertEquals(CudaKernels.MAX_ROWS, Workspace.decodeRows(80L << 30));
        assertEquals(256, CudaKernels.MAX_ROWS);
        assertEquals(64, Workspace.decodeRows(24L << 30));
    }

    @Test
    void sevenBWithDefaultsOnA24GbCardLeavesAPoolOfSeveral32kContexts() {
        ModelConfig c = config(3584, 28, 4, 128);
        long card = 24L << 30;
        long contextBytes = 600L << 20;  // what a CUDA context and module take on an H100, measured as total - free
        var gpu = CudaPlacement.device(0, "24 GiB card", card - contextBytes, card);
        long budget = CudaPlacement.plan(c, java.util.List.of(gpu), new CudaPlacement.Sizing(0.90, 256, 32768, 16))
                .first().kvBudgetBytes();
        var sizing = qwenchat.engine.kv.KvCacheSizing.of(budget, qwenchat.engine.kv.KvCacheSizing.bytesPerToken(c, 2), 64, 32768);
        System.out.println("[sizing] 7B on 24 GiB at 0.90: " + sizing.logLine());
        assertTrue(sizing.totalTokens() >= 2 * 32768, sizing.logLine());
        // Reserving 32K per sequence for 256 sequences (what the unpaged cache did) could never fit.
        assertTrue(256L * 32768 * DeviceKvCache.blockBytes(c, 1) > card);
    }

    @Test
    void simulatedDeviceMemoryCapsTheRealTotalAndRejectsNonsense() {
        String old = System.getProperty(CudaEngine.SIMULATE_DEVICE_MEMORY);
        try {
            System.clearProperty(CudaEngine.SIMULATE_DEVICE_MEMORY);
            assertEquals(80L << 30, CudaEngine.deviceMemory(80L << 30));
            System.setProperty(CudaEngine.SIMULATE_DEVICE_MEMORY, "25769803776");
            assertEquals(24L << 30, CudaEngine.deviceMemory(80L << 30));
            assertEquals(16L << 30, CudaEngine.deviceMemory(16L << 30), "never more than the card has");
            System.setProperty(CudaEngine.SIMULATE_DEVICE_MEMORY, "24G");
            var e = assertThrows(EngineException.class, () -> CudaEngine.deviceMemory(80L << 30));
            assertTrue(e.getMessage().contains("must be a byte count, got '24G'"), e.getMessage());
        } finally {
            if (old == null) System.clearProperty(CudaEngine.SIMULATE_DEVICE_MEMORY);
            else System.setProperty(CudaEngine.SIMULATE_DEVICE_MEMORY, old);
        }
    }
}

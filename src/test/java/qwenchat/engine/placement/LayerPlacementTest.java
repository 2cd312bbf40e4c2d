package qwenchat.engine.placement;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static qwenchat.engine.placement.QwenShapes.QWEN_14B;
import static qwenchat.engine.placement.QwenShapes.QWEN_32B;
import static qwenchat.engine.placement.QwenShapes.QWEN_3B;
import static qwenchat.engine.placement.QwenShapes.QWEN_72B;
import static qwenchat.engine.placement.QwenShapes.QWEN_7B;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import qwenchat.engine.kv.KvCacheSizing;
import qwenchat.model.ModelConfig;

class LayerPlacementTest {

    private static final long MIB = 1L << 20;
    private static final long WORKSPACE = 2L << 30;
    private static final long CONTEXT = 500 * MIB;
    private static final int BLOCK = 64;

    // Totals as the cards report them: H100 80 GB, A100 40 GB, RTX 4090 24 GB, H200 141 GB.
    static GpuDevice h100(int ordinal) {
        return card(ordinal, "H100 80GB", 81559);
    }

    static GpuDevice a100(int ordinal) {
        return card(ordinal, "A100 40GB", 40536);
    }

    static GpuDevice rtx4090(int ordinal) {
        return card(ordinal, "RTX 4090", 24564);
    }

    static GpuDevice h200(int ordinal) {
        return card(ordinal, "H200", 143771);
    }

    static GpuDevice card(int ordinal, String name, long totalMib) {
        return new GpuDevice(ordinal, name, totalMib * MIB, totalMib * MIB - CONTEXT);
    }

    static PlacementRequest request(ModelConfig c, GpuDevice... devices) {
        return new PlacementRequest(c, 2, List.of(devices), 0.90, BLOCK, KvCacheSizing.bytesPerToken(c, 2) / c.numHiddenLayers(),
                d -> WORKSPACE);
    }

    static List<Integer> layerCounts(PlacementPlan p) {
        return p.stages().stream().map(GpuStage::layerCount).toList();
    }

    static long totalWeights(PlacementPlan p) {
        return p.stages().stream().mapToLong(GpuStage::weightBytes).sum();
    }

    @Test
    void oneGpuRunsEveryLayerAndItsKvBudgetIsTheUtilizationShareLessWhatIsTakenWeightsAndWorkspace() {
        GpuDevice gpu = h100(0);
        PlacementPlan plan = LayerPlacement.plan(request(QWEN_7B, gpu));

        GpuStage only = plan.stages().getFirst();
        assertThat(only.firstLayer()).isZero();
        assertThat(only.lastLayer()).isEqualTo(27);
        assertThat(only.embedding()).isTrue();
        assertThat(only.lmHead()).isTrue();
        assertThat(only.weightBytes()).isEqualTo(QWEN_7B.parameterCount() * 2);
        long budget = (long) (gpu.totalBytes() * 0.90) - gpu.usedBytes() - only.weightBytes() - WORKSPACE;
        assertThat(only.kvBudgetBytes()).isEqualTo(budget);
        assertThat(plan.poolBlocks()).isEqualTo(
                KvCacheSizing.of(budget, KvCacheSizing.bytesPerToken(QWEN_7B, 2), BLOCK, 32768).totalBlocks());
    }

    @Test
    void sevenBOnTwoEqualCardsSplitsTheLayersFourteenAndFourteen() {
        PlacementPlan plan = LayerPlacement.plan(request(QWEN_7B, h100(0), h100(1)));

        assertThat(layerCounts(plan)).containsExactly(14, 14);
        GpuStage first = plan.stages().get(0);
        GpuStage last = plan.stages().get(1);
        assertThat(first.embedding()).isTrue();
        assertThat(first.lmHead()).isFalse();
        assertThat(last.firstLayer()).isEqualTo(14);
        assertThat(last.embedding()).isFalse();
        assertThat(last.lmHead()).isTrue();
        assertThat(last.lmHeadCopiesEmbedding()).isFalse();
        assertThat(totalWeights(plan)).isEqualTo(QWEN_7B.parameterCount() * 2);
    }

    @Test
    void aSecondEqualCardMoreThanDoublesTheTokenCapacity() {
        // Each card holds the KV of half the layers and half the weights, so it has room for more than twice the blocks.
        PlacementPlan one = LayerPlacement.plan(request(QWEN_7B, h100(0)));
        PlacementPlan two = LayerPlacement.plan(request(QWEN_7B, h100(0), h100(1)));

        assertThat(two.poolTokens()).isGreaterThan(2 * one.poolTokens());
    }

    @Test
    void fourteenBFitsOnTwo24GbCardsButNotOnOne() {
        PlacementPlan plan = LayerPlacement.plan(request(QWEN_14B, rtx4090(0), rtx4090(1)));

        assertThat(layerCounts(plan)).containsExactly(24, 24);
        assertThat(plan.poolBlocks()).isPositive();
        assertThatThrownBy(() -> LayerPlacement.plan(request(QWEN_14B, rtx4090(0))))
                .hasMessageContaining("14.8B parameters").hasMessageContaining("GPU 0 (RTX 4090, 23.5 GiB free of 24.0 GiB)")
                .hasMessageContaining("short by");
    }

    @Test
    void thirtyTwoBOnTwo80GbCardsSplitsEvenly() {
        PlacementPlan plan = LayerPlacement.plan(request(QWEN_32B, h100(0), h100(1)));

        assertThat(layerCounts(plan)).containsExactly(32, 32);
        assertThat(totalWeights(plan)).isEqualTo(QWEN_32B.parameterCount() * 2);
    }

    @Test
    void seventyTwoBOnTwo141GbCardsSplitsEvenly() {
        PlacementPlan plan = LayerPlacement.plan(request(QWEN_72B, h200(0), h200(1)));

        assertThat(layerCounts(plan)).containsExactly(40, 40);
        assertThat(plan.poolBlocks()).isPositive();
    }

    @Test
    void everyGpuAllocationStaysWithinItsAllowedMemory() {
        PlacementPlan plan = LayerPlacement.plan(request(QWEN_14B, h100(0), a100(1)));

        for (GpuStage s : plan.stages()) {
            long allowed = KvCacheSizing.allowedBytes(s.device().totalBytes(), 0.90) - s.device().usedBytes();
            assertThat(s.weightBytes() + s.workspaceBytes() + plan.kvBytes(s)).isLessThanOrEqualTo(allowed);
        }
    }

    @Test
    void unequalCardsGetLayersInProportionToTheirRoomAndTheSplitMaximisesThePool() {
        PlacementPlan plan = LayerPlacement.plan(request(QWEN_14B, h100(0), a100(1)));
        long layerWeights = QWEN_14B.layerParameters() * 2;
        long layerBlock = plan.layerBlockBytes();
        // What each card has for its layers' weights and KV, recovered from the plan.
        long[] room = plan.stages().stream().mapToLong(s -> s.kvBudgetBytes() + s.layerCount() * layerWeights).toArray();

        int big = plan.stages().get(0).layerCount();
        assertThat(big).isGreaterThan(plan.stages().get(1).layerCount());
        double share = 48.0 * room[0] / (room[0] + room[1]);
        assertThat((double) big).isCloseTo(share, org.assertj.core.data.Offset.offset(1.0));

        long best = 0;
        for (int k = 1; k < 48; k++) {
            long a = (room[0] - k * layerWeights) / (k * layerBlock);
            long b = (room[1] - (48 - k) * layerWeights) / ((48 - k) * layerBlock);
            best = Math.max(best, Math.min(a, b));
        }
        assertThat((long) plan.poolBlocks()).isEqualTo(best);
    }

    @Test
    void withTiedEmbeddingsTheLastGpuHoldsItsOwnCopyAsLmHead() {
        PlacementPlan one = LayerPlacement.plan(request(QWEN_3B, h100(0)));
        PlacementPlan two = LayerPlacement.plan(request(QWEN_3B, h100(0), h100(1)));

        assertThat(one.stages().getFirst().lmHeadCopiesEmbedding()).isFalse();
        assertThat(totalWeights(one)).isEqualTo(QWEN_3B.parameterCount() * 2);
        assertThat(two.stages().get(1).lmHeadCopiesEmbedding()).isTrue();
        assertThat(totalWeights(two)).isEqualTo((QWEN_3B.parameterCount() + QWEN_3B.embeddingParameters()) * 2);
        assertThat(two.logLines().get(1)).contains("lm_head (a copy of the tied embedding)");
    }

    @Test
    void seventyTwoBOnOne80GbCardFailsNamingSizeFreeMemoryAndShortfall() {
        assertThatThrownBy(() -> LayerPlacement.plan(request(QWEN_72B, h100(0))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("72.7B parameters")
                .hasMessageContaining("GPU 0 (H100 80GB, 79.2 GiB free of 79.6 GiB)")
                .hasMessageMatching("(?s).*short by \\d+\\.\\d GiB.*")
                .hasMessageContaining("qwen.gpus");
    }

    @Test
    void moreGpusThanLayersIsRefused() {
        ModelConfig twoLayers = QwenShapes.qwen(64, 128, 2, 4, 2, 1000, true);
        assertThatThrownBy(() -> LayerPlacement.plan(request(twoLayers, h100(0), h100(1), h100(2))))
                .hasMessageContaining("3 GPUs were given for a model of 2 layers");
    }

    @Test
    void theLogHasOneLinePerGpuWithLayersWeightsAndKvBlocks() {
        PlacementPlan plan = LayerPlacement.plan(request(QWEN_7B, h100(0), h100(1)));

        List<String> lines = plan.logLines();
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).startsWith("GPU 0 (H100 80GB): layers 0-13 of 28 + embedding, weights ")
                .contains(String.format("KV %,d blocks of 64", plan.poolBlocks()));
        assertThat(lines.get(1)).startsWith("GPU 1 (H100 80GB): layers 14-27 of 28 + norm + lm_head, weights ");
    }

    @Test
    void aListedGpuWithoutRoomForOneLayerFailsNamingItEvenWhenTheSumWouldFit() {
        List<GpuDevice> devices = new ArrayList<>(List.of(h100(0)));
        devices.add(new GpuDevice(1, "nearly full", 24564 * MIB, 100 * MIB));
        assertThatThrownBy(() -> LayerPlacement.plan(new PlacementRequest(QWEN_7B, 2, devices, 0.90, BLOCK,
                KvCacheSizing.bytesPerToken(QWEN_7B, 2) / 28, d -> WORKSPACE)))
                .hasMessageContaining("GPU 1 (nearly full, 100.0 MiB free of 24.0 GiB)")
                .hasMessageContaining("no split of the 28 layers fits: GPU 1 is short by");
    }
}

package qwenchat.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import qwenchat.engine.EngineException;
import qwenchat.engine.kv.KvCacheSizing;
import qwenchat.engine.placement.GpuDevice;
import qwenchat.engine.placement.GpuStage;
import qwenchat.engine.placement.PlacementPlan;
import qwenchat.model.ModelConfig;

/** The CUDA engine's placement inputs, checked without a GPU: simulated devices, the engine's own byte counts. */
class CudaPlacementTest {

    private static final ModelConfig QWEN_7B = new ModelConfig("qwen2", 3584, 18944, 28, 28, 4, 128, 152064, 32768, 1e6,
            1e-6, false, null, "bfloat16");
    private static final long H100 = 81559L << 20;
    private static final CudaPlacement.Sizing SIZING = new CudaPlacement.Sizing(0.90, 256, 32768, 64);

    @Test
    void oneGpuKvBudgetIsTheUtilizationShareLessContextWeightsAndWorkspace() {
        GpuDevice gpu = CudaPlacement.device(0, "H100", H100 - (600L << 20), H100);
        PlacementPlan plan = CudaPlacement.plan(QWEN_7B, List.of(gpu), SIZING);

        long beside = CudaEngine.bytesBesideKv(QWEN_7B, 256, 32768, 64, H100);
        assertThat(plan.first().kvBudgetBytes()).isEqualTo(KvCacheSizing.allowedBytes(H100, 0.90) - (600L << 20) - beside);
        assertThat(plan.first().weightBytes()).isEqualTo(DeviceWeights.deviceBytes(QWEN_7B));
    }

    @Test
    void theKvPoolBlocksAreTheOnesTheEngineAllocates() {
        GpuDevice gpu = CudaPlacement.device(0, "H100", H100 - (600L << 20), H100);
        PlacementPlan plan = CudaPlacement.plan(QWEN_7B, List.of(gpu), SIZING);

        assertThat(plan.kvBytes(plan.first())).isEqualTo(DeviceKvCache.totalBytes(QWEN_7B, 64, plan.poolBlocks()));
    }

    @Test
    void eachGpuGetsTheWorkspaceTheEngineWouldAllocateOnACardOfItsSize() {
        GpuDevice big = CudaPlacement.device(0, "H100", H100 - (600L << 20), H100);
        GpuDevice small = CudaPlacement.device(1, "RTX 4090", (24564L - 600) << 20, 24564L << 20);
        PlacementPlan plan = CudaPlacement.plan(QWEN_7B, List.of(big, small), SIZING);

        for (GpuStage s : plan.stages()) {
            assertThat(s.workspaceBytes()).isEqualTo(CudaEngine.workspaceBytes(QWEN_7B, 256, 32768, 64, s.device().totalBytes()));
        }
    }

    @Test
    void aModelThatDoesNotFitFailsAsAnEngineErrorNamingTheGpu() {
        GpuDevice small = CudaPlacement.device(0, "RTX 4090", (24564L - 600) << 20, 24564L << 20);
        ModelConfig qwen32b = new ModelConfig("qwen2", 5120, 27648, 64, 40, 8, 128, 152064, 32768, 1e6, 1e-6, false,
                null, "bfloat16");
        assertThatThrownBy(() -> CudaPlacement.plan(qwen32b, List.of(small), SIZING)).isInstanceOf(EngineException.class)
                .hasMessageContaining("GPU 0 (RTX 4090").hasMessageContaining("short by");
    }

    @Test
    void withSeveralGpusTheEngineRunsOnTheFirstAloneSizedByItsOwnPlan() {
        GpuDevice a = CudaPlacement.device(1, "H100", H100 - (600L << 20), H100);
        GpuDevice b = CudaPlacement.device(0, "H100", H100 - (600L << 20), H100);
        PlacementPlan plan = CudaPlacement.planForEngine(QWEN_7B, List.of(a, b), SIZING);

        assertThat(plan.stages()).hasSize(1);
        assertThat(plan.first().device().ordinal()).isEqualTo(1);
        assertThat(plan.first().layerCount()).isEqualTo(28);
        assertThat(plan).isEqualTo(CudaPlacement.plan(QWEN_7B, List.of(a), SIZING));
    }

    @Test
    void aModelThatOnlyFitsSplitFailsSayingTheSplitIsNotBuiltYet() {
        ModelConfig qwen32b = new ModelConfig("qwen2", 5120, 27648, 64, 40, 8, 128, 152064, 32768, 1e6, 1e-6, false,
                null, "bfloat16");
        long card = 40536L << 20;
        List<GpuDevice> two = List.of(CudaPlacement.device(0, "A100 40GB", card - (600L << 20), card),
                CudaPlacement.device(1, "A100 40GB", card - (600L << 20), card));
        assertThat(CudaPlacement.plan(qwen32b, two, SIZING).poolBlocks()).as("fits when split").isPositive();

        assertThatThrownBy(() -> CudaPlacement.planForEngine(qwen32b, two, SIZING)).isInstanceOf(EngineException.class)
                .hasMessageContaining("GPU 0 (A100 40GB").hasMessageContaining("short by")
                .hasMessageContaining("running a model across GPUs is not built yet, so it must fit on GPU 0 alone");
    }
}

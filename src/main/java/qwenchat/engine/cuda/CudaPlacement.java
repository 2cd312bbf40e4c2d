package qwenchat.engine.cuda;

import java.util.ArrayList;
import java.util.List;
import qwenchat.engine.EngineException;
import qwenchat.engine.placement.GpuDevice;
import qwenchat.engine.placement.LayerPlacement;
import qwenchat.engine.placement.PlacementPlan;
import qwenchat.engine.placement.PlacementRequest;
import qwenchat.model.ModelConfig;

/**
 * The CUDA engine's side of a {@link LayerPlacement}: reads the listed GPUs' memory, sizes each
 * one's workspace with the engine's own arithmetic ({@link CudaEngine#workspaceBytes}) and logs the
 * plan at start-up, one line per GPU. The staged forward pass across GPUs (the hidden state copied
 * from one stage's GPU to the next) is not built yet: with several GPUs listed, the plan over all of
 * them is logged, and the engine runs on the first one alone, sized by that GPU's one-stage plan.
 */
public final class CudaPlacement {

    private static final System.Logger LOG = System.getLogger(CudaPlacement.class.getName());

    /** The settings besides the model and the devices that a placement depends on. */
    public record Sizing(double utilization, int maxSequences, int maxTokensPerSequence, int blockSize) {
    }

    private CudaPlacement() {
    }

    /**
     * Each listed GPU's name and memory, read through a context of its own (closed again), so the
     * context's own share counts as taken, as it will be once the engine runs there.
     */
    public static List<GpuDevice> probe(List<Integer> ordinals) {
        List<GpuDevice> devices = new ArrayList<>();
        for (int ordinal : ordinals) {
            try (CudaContext probe = CudaContext.create(ordinal)) {
                long[] mem = probe.call(probe::memoryInfo);
                devices.add(device(ordinal, probe.deviceName(), mem[0], mem[1]));
            }
        }
        return devices;
    }

    /** A device as the engine sees it: under {@link CudaEngine#SIMULATE_DEVICE_MEMORY} a smaller card with the same memory taken. */
    static GpuDevice device(int ordinal, String name, long free, long realTotal) {
        long total = CudaEngine.deviceMemory(realTotal);
        long taken = realTotal - free;
        return new GpuDevice(ordinal, name, total, Math.max(0, total - taken));
    }

    static PlacementRequest request(ModelConfig c, List<GpuDevice> devices, Sizing s) {
        long perTokenPerLayer = DeviceKvCache.blockBytes(c, s.blockSize()) / s.blockSize() / c.numHiddenLayers();
        return new PlacementRequest(c, 2, devices, s.utilization(), s.blockSize(), perTokenPerLayer,
                d -> CudaEngine.workspaceBytes(c, s.maxSequences(), s.maxTokensPerSequence(), s.blockSize(), d.totalBytes()));
    }

    /**
     * The placement of {@code c} over {@code devices}.
     *
     * @throws EngineException with the placement's message when the model does not fit
     */
    public static PlacementPlan plan(ModelConfig c, List<GpuDevice> devices, Sizing s) {
        try {
            return LayerPlacement.plan(request(c, devices, s));
        } catch (IllegalArgumentException e) {
            throw new EngineException(e.getMessage());
        }
    }

    /**
     * Plans the listed GPUs (already {@link #probe probed}), logs the plan, and returns the plan the
     * engine runs with: the first GPU's alone while the staged forward pass across GPUs is not built.
     *
     * @throws EngineException when the model does not fit on the GPU the engine runs on
     */
    public static PlacementPlan planForEngine(ModelConfig c, List<GpuDevice> devices, Sizing s) {
        int first = devices.getFirst().ordinal();
        if (devices.size() > 1) {
            try {
                log(System.Logger.Level.INFO, "placement over " + devices.size() + " GPUs", plan(c, devices, s));
            } catch (EngineException e) {
                LOG.log(System.Logger.Level.WARNING, "placement over " + devices.size() + " GPUs: " + e.getMessage());
            }
            LOG.log(System.Logger.Level.WARNING, "the staged forward pass across GPUs is not built yet: the engine runs"
                    + " on GPU " + first + " alone (qwen.gpus lists " + devices.size() + ")");
        }
        PlacementPlan one;
        try {
            one = plan(c, devices.subList(0, 1), s);
        } catch (EngineException e) {
            throw new EngineException(e.getMessage() + " (running a model across GPUs is not built yet, so it must"
                    + " fit on GPU " + first + " alone)");
        }
        log(System.Logger.Level.INFO, "placement", one);
        return one;
    }

    private static void log(System.Logger.Level level, String head, PlacementPlan plan) {
        for (String line : plan.logLines()) LOG.log(level, head + ": " + line);
    }
}

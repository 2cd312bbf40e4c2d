package qwenchat.engine.placement;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import qwenchat.engine.kv.KvCacheSizing;
import qwenchat.model.ModelConfig;

/**
 * Splits a model's decoder layers across GPUs so that the shared KV pool holds the most tokens.
 * Each GPU may use {@link KvCacheSizing#allowedBytes} of its memory, less what is already taken,
 * its workspace and its fixed weights (embedding first, norm and lm_head last); what its layers'
 * weights leave of that holds their KV. On one GPU that is the KV budget of the whole model, which
 * {@link KvCacheSizing#of} turns into the pool's blocks: the one place a GPU's KV budget is decided.
 */
public final class LayerPlacement {

    private LayerPlacement() {
    }

    /**
     * The placement that maximises the pool's blocks.
     *
     * @throws IllegalArgumentException naming the model's size, each GPU's free memory and the
     *     shortfall when the GPUs cannot hold the weights, workspace and one KV block per layer
     */
    public static PlacementPlan plan(PlacementRequest r) {
        ModelConfig c = r.config();
        List<GpuDevice> devices = r.devices();
        int n = devices.size();
        int layers = c.numHiddenLayers();
        if (n > layers) {
            throw new IllegalArgumentException(n + " GPUs were given for a model of " + layers
                    + " layers; each GPU runs at least one layer, so list at most " + layers + " in qwen.gpus");
        }
        long layerWeights = c.layerParameters() * r.weightBytesPerValue();
        long[] fixed = new long[n];
        long[] workspace = new long[n];
        long[] room = new long[n]; // bytes for this GPU's layers: their weights and their KV
        for (int i = 0; i < n; i++) {
            GpuDevice d = devices.get(i);
            fixed[i] = fixedWeights(r, i == 0, i == n - 1, n);
            workspace[i] = r.workspace().bytes(d);
            room[i] = KvCacheSizing.allowedBytes(d.totalBytes(), r.gpuMemoryUtilization()) - d.usedBytes()
                    - workspace[i] - fixed[i];
        }
        int[] counts = split(room, layerWeights, r.layerBlockBytes(), layers);

        List<GpuStage> stages = new ArrayList<>();
        int pool = Integer.MAX_VALUE;
        int first = 0;
        for (int i = 0; i < n; i++) {
            long kvBudget = room[i] - counts[i] * layerWeights;
            long blocks = Math.max(0, kvBudget) / (counts[i] * r.layerBlockBytes());
            int kvBlocks = (int) Math.min(Integer.MAX_VALUE, blocks);
            boolean copy = c.tieWordEmbeddings() && n > 1 && i == n - 1;
            stages.add(new GpuStage(devices.get(i), first, counts[i], i == 0, i == n - 1, copy,
                    fixed[i] + counts[i] * layerWeights, workspace[i], kvBudget, kvBlocks));
            pool = Math.min(pool, kvBlocks);
            first += counts[i];
        }
        if (pool < 1) throw new IllegalArgumentException(doesNotFit(r, stages, room, layerWeights));
        return new PlacementPlan(stages, layers, r.kvBlockSize(), r.layerBlockBytes(), pool);
    }

    /** Embedding on the first GPU; final norm and lm_head on the last, which copies a tied embedding unless it is the first too. */
    static long fixedWeights(PlacementRequest r, boolean first, boolean last, int gpus) {
        ModelConfig c = r.config();
        long embedding = c.embeddingParameters() * r.weightBytesPerValue();
        long bytes = first ? embedding : 0;
        if (last) {
            bytes += (long) c.hiddenSize() * r.weightBytesPerValue();
            if (!c.tieWordEmbeddings() || gpus > 1) bytes += embedding;
        }
        return bytes;
    }

    /**
     * Layers per GPU, at least one each: every further layer goes where the most KV blocks per
     * layer would remain after taking it. Blocks fall as a GPU takes layers, so this greedy order
     * maximises the least GPU's blocks; ties go to the earlier GPU, so equal cards split evenly.
     */
    static int[] split(long[] room, long layerWeights, long layerBlockBytes, int layers) {
        int n = room.length;
        int[] counts = new int[n];
        Arrays.fill(counts, 1);
        for (int given = n; given < layers; given++) {
            int best = 0;
            double bestBlocks = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                double blocks = blocksPerLayer(room[i], counts[i] + 1, layerWeights, layerBlockBytes);
                if (blocks > bestBlocks) {
                    bestBlocks = blocks;
                    best = i;
                }
            }
            counts[best]++;
        }
        return counts;
    }

    private static double blocksPerLayer(long room, int layers, long layerWeights, long layerBlockBytes) {
        return (room - (double) layers * layerWeights) / ((double) layers * layerBlockBytes);
    }

    private static String doesNotFit(PlacementRequest r, List<GpuStage> stages, long[] room, long layerWeights) {
        ModelConfig c = r.config();
        long weights = 0;
        long workspace = 0;
        long allowed = 0;
        StringBuilder gpus = new StringBuilder();
        for (GpuStage s : stages) {
            GpuDevice d = s.device();
            weights += s.weightBytes();
            workspace += s.workspaceBytes();
            allowed += KvCacheSizing.allowedBytes(d.totalBytes(), r.gpuMemoryUtilization()) - d.usedBytes();
            if (!gpus.isEmpty()) gpus.append(", ");
            gpus.append(String.format(Locale.ROOT, "GPU %d (%s, %s free of %s)", d.ordinal(), d.name(),
                    KvCacheSizing.gib(d.freeBytes()), KvCacheSizing.gib(d.totalBytes())));
        }
        long oneBlock = (long) c.numHiddenLayers() * r.layerBlockBytes();
        long need = weights + workspace + oneBlock;
        String head = String.format(Locale.ROOT,
                "the model (%.1fB parameters, %s of weights) does not fit on %s: at gpu-memory-utilization %.2f"
                        + " they allow %s, and weights, workspace (%s) and one KV block of every layer (%s) need %s",
                c.parameterCount() / 1e9, KvCacheSizing.gib(weights), gpus, r.gpuMemoryUtilization(),
                KvCacheSizing.gib(allowed), KvCacheSizing.gib(workspace), KvCacheSizing.gib(oneBlock),
                KvCacheSizing.gib(need));
        String shortfall;
        if (need > allowed) {
            shortfall = "short by " + KvCacheSizing.gib(need - allowed);
        } else {
            // Enough in sum, but layers are whole: name the GPU whose share does not fit.
            GpuStage worst = stages.getFirst();
            long worstShort = 0;
            for (int i = 0; i < stages.size(); i++) {
                GpuStage s = stages.get(i);
                long lack = s.layerCount() * (layerWeights + r.layerBlockBytes()) - room[i];
                if (lack > worstShort) {
                    worstShort = lack;
                    worst = s;
                }
            }
            shortfall = String.format(Locale.ROOT, "but no split of the %d layers fits: GPU %d is short by %s for its %d",
                    c.numHiddenLayers(), worst.device().ordinal(), KvCacheSizing.gib(worstShort), worst.layerCount());
        }
        return head + ", " + shortfall + "; add GPUs to qwen.gpus, raise qwen.gpu-memory-utilization or use a smaller model";
    }
}

package qwenchat.engine.placement;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import qwenchat.engine.kv.KvCacheSizing;

/**
 * Where a model runs: one {@link GpuStage} per GPU in stage order, and the KV pool they share. A
 * block id names the same block on every GPU, each holding that block for its own layers, so the
 * pool is as large as the GPU with the least room for its share allows.
 *
 * @param layerBlockBytes KV bytes of one block in one layer
 * @param poolBlocks blocks of the pool: the least {@link GpuStage#kvBlocks()} over the stages
 */
public record PlacementPlan(List<GpuStage> stages, int layers, int blockSize, long layerBlockBytes, int poolBlocks) {

    public PlacementPlan {
        stages = List.copyOf(stages);
        if (stages.isEmpty()) throw new IllegalArgumentException("a plan has at least one stage");
        if (poolBlocks < 1) throw new IllegalArgumentException("a plan's pool holds at least one block, got " + poolBlocks);
    }

    public long poolTokens() {
        return (long) poolBlocks * blockSize;
    }

    /** KV bytes {@code stage} allocates for the pool: every block, for its layers only. */
    public long kvBytes(GpuStage stage) {
        return (long) poolBlocks * stage.layerCount() * layerBlockBytes;
    }

    /** The stage that embeds the tokens. */
    public GpuStage first() {
        return stages.getFirst();
    }

    /** One line per GPU, e.g. "GPU 0 (NVIDIA H100): layers 0-13 of 28 + embedding, weights 7.6 GiB, workspace 2.0 GiB, KV 3,120 blocks of 64 (10.2 GiB; room for 3,301)". */
    public List<String> logLines() {
        List<String> lines = new ArrayList<>();
        for (GpuStage s : stages) {
            StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "GPU %d (%s): layers %d-%d of %d",
                    s.device().ordinal(), s.device().name(), s.firstLayer(), s.lastLayer(), layers));
            if (s.embedding()) b.append(" + embedding");
            if (s.lmHead()) b.append(s.lmHeadCopiesEmbedding() ? " + norm + lm_head (a copy of the tied embedding)" : " + norm + lm_head");
            b.append(String.format(Locale.ROOT, ", weights %s, workspace %s, KV %,d blocks of %d (%s; room for %,d)",
                    KvCacheSizing.gib(s.weightBytes()), KvCacheSizing.gib(s.workspaceBytes()), poolBlocks, blockSize,
                    KvCacheSizing.gib(kvBytes(s)), s.kvBlocks()));
            lines.add(b.toString());
        }
        return lines;
    }
}

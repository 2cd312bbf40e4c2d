package qwenchat.engine.placement;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import qwenchat.model.ModelConfig;

/**
 * What a placement is computed from.
 *
 * @param config the model's shapes
 * @param weightBytesPerValue bytes of one weight on the device (2 for bf16)
 * @param devices the GPUs in stage order: the first embeds the tokens, the last computes the logits
 * @param gpuMemoryUtilization the share of each device's memory the process may use (vLLM's meaning)
 * @param kvBlockSize tokens per KV block
 * @param kvBytesPerTokenPerLayer keys plus values of one token in one layer
 * @param workspace bytes each GPU needs beside weights and KV
 */
public record PlacementRequest(ModelConfig config, int weightBytesPerValue, List<GpuDevice> devices,
        double gpuMemoryUtilization, int kvBlockSize, long kvBytesPerTokenPerLayer, WorkspaceEstimate workspace) {

    public PlacementRequest {
        if (config == null) throw new IllegalArgumentException("a placement needs the model config");
        if (weightBytesPerValue < 1) throw new IllegalArgumentException("weightBytesPerValue must be >= 1, got " + weightBytesPerValue);
        if (devices == null || devices.isEmpty()) throw new IllegalArgumentException("a placement needs at least one GPU");
        devices = List.copyOf(devices);
        Set<Integer> seen = new HashSet<>();
        for (GpuDevice d : devices) {
            if (!seen.add(d.ordinal())) throw new IllegalArgumentException("GPU " + d.ordinal() + " is listed twice");
        }
        if (kvBlockSize < 1) throw new IllegalArgumentException("kvBlockSize must be >= 1, got " + kvBlockSize);
        if (kvBytesPerTokenPerLayer < 1) {
            throw new IllegalArgumentException("kvBytesPerTokenPerLayer must be >= 1, got " + kvBytesPerTokenPerLayer);
        }
        if (workspace == null) throw new IllegalArgumentException("a placement needs a workspace estimate");
    }

    /** KV bytes of one block in one layer. */
    long layerBlockBytes() {
        return kvBytesPerTokenPerLayer * kvBlockSize;
    }
}

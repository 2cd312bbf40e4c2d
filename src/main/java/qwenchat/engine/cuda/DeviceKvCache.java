package qwenchat.engine.cuda;

import java.util.ArrayList;
import java.util.List;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.model.ModelConfig;

/**
 * The KV cache: contiguous per slot (not paged). Each layer has one K and one V buffer laid out
 * [slot][kvHead][maxT][headDim] bf16, so a slot's keys for one head are a dense run the attention
 * kernel streams. Simple and launch-free to address; the price is that every slot reserves
 * maxTokensPerSequence tokens whether it uses them or not.
 */
final class DeviceKvCache implements AutoCloseable {
    final List<DeviceBuffer> k = new ArrayList<>();
    final List<DeviceBuffer> v = new ArrayList<>();

    static long bytesPerLayerSide(ModelConfig c, KvCacheCapacity cap) {
        return (long) cap.maxSequences() * c.numKeyValueHeads() * cap.maxTokensPerSequence() * c.headDim() * 2;
    }

    static long totalBytes(ModelConfig c, KvCacheCapacity cap) {
        return 2L * c.numHiddenLayers() * bytesPerLayerSide(c, cap);
    }

    DeviceKvCache(ModelConfig c, KvCacheCapacity cap) {
        long side = bytesPerLayerSide(c, cap);
        try {
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                k.add(DeviceBuffer.allocate("kv cache K layer " + l, side));
                v.add(DeviceBuffer.allocate("kv cache V layer " + l, side));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    @Override
    public void close() {
        for (DeviceBuffer b : k) b.close();
        for (DeviceBuffer b : v) b.close();
    }
}

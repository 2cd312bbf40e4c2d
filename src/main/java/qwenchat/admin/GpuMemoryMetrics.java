package qwenchat.admin;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.function.ToLongFunction;
import qwenchat.engine.GpuMemory;

/**
 * Used and total memory of each GPU the engine runs on, labelled {@code gpu} with the device
 * ordinal: {@code qwen_gpu_memory_used_bytes} and {@code qwen_gpu_memory_total_bytes} in
 * Prometheus exposition. None on the CPU engine.
 */
final class GpuMemoryMetrics {

    static final String USED = "qwen.gpu.memory.used";
    static final String TOTAL = "qwen.gpu.memory.total";

    private final MeterRegistry registry;
    private final GpuMemorySource source;

    GpuMemoryMetrics(MeterRegistry registry, GpuMemorySource source) {
        this.registry = registry;
        this.source = source;
    }

    /** Registers the gauges of the GPUs the source lists now (the model is loaded), each with {@code tags}. */
    void register(Tags tags) {
        for (GpuMemory g : source.gpus()) {
            Tags t = tags.and("gpu", String.valueOf(g.ordinal()));
            gauge(USED, "GPU memory in use, read once the model was loaded.", t, g.ordinal(), GpuMemory::usedBytes);
            gauge(TOTAL, "GPU memory.", t, g.ordinal(), GpuMemory::totalBytes);
        }
    }

    private void gauge(String name, String description, Tags tags, int ordinal, ToLongFunction<GpuMemory> value) {
        Gauge.builder(name, source, s -> s.gpus().stream().filter(g -> g.ordinal() == ordinal).findFirst()
                        .map(g -> (double) value.applyAsLong(g)).orElse(Double.NaN))
                .tags(tags).baseUnit("bytes").description(description).register(registry);
    }
}

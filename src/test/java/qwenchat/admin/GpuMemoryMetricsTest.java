package qwenchat.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import qwenchat.engine.GpuMemory;

/** Per-GPU memory in /actuator/prometheus and on the dashboard, from a fake device source. */
class GpuMemoryMetricsTest {

    private static final long GIB = 1L << 30;

    private final AtomicReference<List<GpuMemory>> devices = new AtomicReference<>(List.of(
            new GpuMemory(0, "H100 80GB", 70 * GIB, 80 * GIB), new GpuMemory(1, "H100 80GB", 66 * GIB, 80 * GIB)));
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    @Test
    void eachGpuHasUsedAndTotalBytesLabelledWithItsOrdinal() {
        new GpuMemoryMetrics(registry, devices::get).register(Tags.of("model_name", "qwen"));

        String scrape = registry.scrape();
        assertThat(AdminApiTest.value(scrape, "qwen_gpu_memory_used_bytes", "gpu=\"0\"")).isEqualTo(70.0 * GIB);
        assertThat(AdminApiTest.value(scrape, "qwen_gpu_memory_used_bytes", "gpu=\"1\"")).isEqualTo(66.0 * GIB);
        assertThat(AdminApiTest.value(scrape, "qwen_gpu_memory_total_bytes", "gpu=\"1\"")).isEqualTo(80.0 * GIB);
        assertThat(scrape).contains("qwen_gpu_memory_used_bytes{gpu=\"0\",model_name=\"qwen\"}");
    }

    @Test
    void oneGpuGivesOneSeriesOfEach() {
        devices.set(List.of(new GpuMemory(0, "H200", 100 * GIB, 140 * GIB)));
        new GpuMemoryMetrics(registry, devices::get).register(Tags.of("model_name", "qwen"));

        assertThat(registry.find(GpuMemoryMetrics.USED).gauges()).hasSize(1);
        assertThat(registry.find(GpuMemoryMetrics.TOTAL).tag("gpu", "0").gauge().value()).isEqualTo(140.0 * GIB);
    }

    @Test
    void theGaugesFollowTheSource() {
        new GpuMemoryMetrics(registry, devices::get).register(Tags.empty());
        devices.set(List.of(new GpuMemory(0, "H100 80GB", 75 * GIB, 80 * GIB)));

        assertThat(registry.find(GpuMemoryMetrics.USED).tag("gpu", "0").gauge().value()).isEqualTo(75.0 * GIB);
        assertThat(registry.find(GpuMemoryMetrics.USED).tag("gpu", "1").gauge().value()).as("a GPU no longer listed").isNaN();
    }

    @Test
    void theCpuEngineRegistersNoGpuSeries() {
        new GpuMemoryMetrics(registry, List::of).register(Tags.empty());

        assertThat(registry.find(GpuMemoryMetrics.USED).gauges()).isEmpty();
        assertThat(registry.scrape()).doesNotContain("qwen_gpu_memory");
    }

    @Test
    void theDashboardListsEachGpuUnderTheSameKeyAsTheLabel() {
        List<Map<String, Object>> gpus = Overview.gpus(devices.get());

        assertThat(gpus).hasSize(2);
        assertThat(gpus.get(1)).containsEntry("gpu", 1).containsEntry("name", "H100 80GB")
                .containsEntry("usedBytes", 66 * GIB).containsEntry("totalBytes", 80 * GIB);
    }
}

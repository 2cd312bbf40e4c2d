package qwenchat.admin;

import io.micrometer.core.instrument.MeterRegistry;
import java.security.SecureRandom;
import org.springframework.boot.availability.ApplicationAvailability;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import qwenchat.presets.PresetStore;
import qwenchat.security.AdminToken;
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.ModelRuntime;

/** Wires the admin credential (checked by {@code qwenchat.security}), the dashboard, the vLLM metrics, the request log and the decode-loop health. */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(AdminProperties.class)
public class AdminConfiguration {

    @Bean
    AdminToken adminToken(AdminProperties properties) {
        return AdminToken.fromConfigOrGenerate(properties.token(), new SecureRandom());
    }

    @Bean("decodeLoopHealthIndicator")
    DecodeLoopHealth decodeLoop(BatchScheduler scheduler, AdminProperties properties) {
        return new DecodeLoopHealth(scheduler, properties.stallTimeout());
    }

    @Bean("engineHealthIndicator")
    EngineHealth engine(BatchScheduler scheduler) {
        return new EngineHealth(scheduler);
    }

    @Bean
    ModelCards modelCards(ModelRuntime runtime) {
        return new ModelCards(runtime);
    }

    @Bean
    ModelCardInfo modelCardInfo(ModelCards cards, ModelRuntime runtime) {
        return new ModelCardInfo(cards, runtime);
    }

    @Bean
    GpuMemorySource gpuMemorySource(ModelRuntime runtime) {
        return GpuMemorySource.of(runtime);
    }

    @Bean
    VllmMetrics vllmMetrics(MeterRegistry registry, BatchScheduler scheduler, ModelRuntime runtime,
            GpuMemorySource gpus) {
        VllmMetrics metrics = new VllmMetrics(registry, scheduler, runtime, new GpuMemoryMetrics(registry, gpus));
        scheduler.addObserver(metrics);
        return metrics;
    }

    @Bean
    RequestLog requestLog(BatchScheduler scheduler) {
        RequestLog log = new RequestLog();
        scheduler.addObserver(log);
        return log;
    }

    @Bean
    LiveStats liveStats(BatchScheduler scheduler) {
        LiveStats stats = new LiveStats(scheduler);
        scheduler.addObserver(stats);
        return stats;
    }

    @Bean
    SampleHistory sampleHistory(AdminProperties properties) {
        return new SampleHistory(properties.historySamples());
    }

    @Bean
    AdminEvents adminEvents() {
        return new AdminEvents();
    }

    @Bean
    Overview adminOverview(ModelRuntime runtime, BatchScheduler scheduler, ModelCards cards, DecodeLoopHealth loop,
            ApplicationAvailability availability, PresetStore presets, GpuMemorySource gpus) {
        return new Overview(runtime, scheduler, cards, loop, availability, KernelManifest.load(), presets, gpus);
    }

    @Bean
    DashboardSampler dashboardSampler(LiveStats stats, SampleHistory history, AdminEvents events, Overview overview) {
        return new DashboardSampler(stats, history, events, overview);
    }
}

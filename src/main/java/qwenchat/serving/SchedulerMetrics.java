package qwenchat.serving;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

/** The scheduler's batch statistics as Micrometer meters ({@code /actuator/metrics/qwen.scheduler.*}). */
final class SchedulerMetrics implements MeterBinder {

    private final BatchScheduler scheduler;

    SchedulerMetrics(BatchScheduler scheduler) {
        this.scheduler = scheduler;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        Gauge.builder("qwen.scheduler.running", scheduler, s -> s.stats().running())
                .description("sequences decoding now").register(registry);
        Gauge.builder("qwen.scheduler.waiting", scheduler, s -> s.stats().waiting())
                .description("requests waiting for KV blocks or a sequence slot, preempted ones included").register(registry);
        Gauge.builder("qwen.scheduler.batch.max", scheduler, s -> s.stats().maxBatch())
                .description("most sequences in one engine step").register(registry);
        Gauge.builder("qwen.scheduler.kv.reserved.tokens", scheduler, s -> s.stats().reservedTokens())
                .description("prompt plus max new tokens of running sequences: what they may grow to").register(registry);
        FunctionCounter.builder("qwen.scheduler.steps", scheduler, s -> s.stats().steps())
                .description("engine steps run").register(registry);
        FunctionCounter.builder("qwen.scheduler.tokens.generated", scheduler, s -> s.stats().tokensGenerated())
                .description("tokens sampled").register(registry);
        FunctionCounter.builder("qwen.scheduler.rejected.busy", scheduler, s -> s.stats().rejectedBusy())
                .description("requests refused because the queue was full").register(registry);
        FunctionCounter.builder("qwen.scheduler.cancelled", scheduler, s -> s.stats().cancelled())
                .description("generations cancelled by clients or timeouts").register(registry);
    }
}

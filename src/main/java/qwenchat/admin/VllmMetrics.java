package qwenchat.admin;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import qwenchat.engine.EngineInfo;
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.EngineSnapshot;
import qwenchat.serving.LoadState;
import qwenchat.serving.LoadStatus;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.RequestOutcome;
import qwenchat.serving.SchedulerObserver;

/**
 * vLLM's serving metrics under vLLM's names, each labelled {@code model_name}, so Grafana boards
 * made for vLLM work unchanged; plus our engine and per-GPU memory gauges ({@link GpuMemoryMetrics}). The names are given so that
 * Prometheus exposition (see {@link VllmNamingConvention}) prints exactly vLLM's: counters get
 * {@code _total} and timers {@code _seconds} appended there. Meters are registered when the model
 * is ready, because the label needs its name.
 */
final class VllmMetrics implements SchedulerObserver {

    // vLLM's bucket boundaries, in seconds.
    static final double[] TTFT_BUCKETS = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
            2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
    static final double[] ITL_BUCKETS = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
            5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
    static final double[] REQUEST_BUCKETS = {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0,
            50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

    private final MeterRegistry registry;
    private final BatchScheduler scheduler;
    private final ModelRuntime runtime;
    private final GpuMemoryMetrics gpuMemory;
    private final Map<String, Counter> successByReason = new ConcurrentHashMap<>();
    private volatile Meters meters;

    private record Meters(Tags tags, Counter promptTokens, Counter generationTokens, Timer ttft, Timer itl,
            Timer e2e, Timer queue, Counter preemptions, Counter prefixQueries, Counter prefixHits) {
    }

    VllmMetrics(MeterRegistry registry, BatchScheduler scheduler, ModelRuntime runtime, GpuMemoryMetrics gpuMemory) {
        this.registry = registry;
        this.scheduler = scheduler;
        this.runtime = runtime;
        this.gpuMemory = gpuMemory;
        runtime.onStatus(this::onStatus);
        onStatus(runtime.status());
    }

    private void onStatus(LoadStatus s) {
        if (s.state() == LoadState.READY) runtime.served().ifPresent(m -> register(m.name()));
    }

    private synchronized void register(String modelName) {
        if (meters != null) return;
        Tags tags = Tags.of("model_name", modelName);
        Gauge.builder("vllm:num_requests_running", scheduler, BatchScheduler::runningCount).tags(tags)
                .description("Number of requests in model execution batches.").register(registry);
        Gauge.builder("vllm:num_requests_waiting", scheduler, BatchScheduler::waitingCount).tags(tags)
                .description("Number of requests waiting to be processed.").register(registry);
        Gauge.builder("vllm:kv_cache_usage_perc", scheduler, VllmMetrics::kvUsage).tags(tags)
                .description("KV-cache usage. 1 means 100 percent usage (blocks of the paged pool in use).")
                .register(registry);
        for (String kind : new String[] {"weights", "kv_cache", "workspace", "device_total"}) {
            Gauge.builder("qwen.engine.memory", scheduler, s -> memory(s, kind)).tags(tags).tag("kind", kind)
                    .baseUnit("bytes").description("Engine memory by use (device_total: the GPU's memory; 0 on CPU).")
                    .register(registry);
        }
        gpuMemory.register(tags);
        Gauge.builder("qwen.kv.cache.capacity.tokens", scheduler, s -> {
            EngineSnapshot e = s.engineSnapshot();
            return e == null ? Double.NaN : e.capacityTokens();
        }).tags(tags).description("Tokens the KV cache holds at most.").register(registry);
        Gauge.builder("qwen.kv.cache.used.tokens", scheduler, s -> {
            EngineSnapshot e = s.engineSnapshot();
            return e == null ? Double.NaN : e.usedTokens();
        }).tags(tags).description("Tokens held in the KV cache now.").register(registry);
        meters = new Meters(tags,
                Counter.builder("vllm:prompt_tokens").tags(tags).description("Number of prefill tokens processed.")
                        .register(registry),
                Counter.builder("vllm:generation_tokens").tags(tags)
                        .description("Number of generation tokens processed.").register(registry),
                timer("vllm:time_to_first_token", "Histogram of time to first token in seconds.", TTFT_BUCKETS, tags),
                timer("vllm:inter_token_latency", "Histogram of inter-token latency in seconds.", ITL_BUCKETS, tags),
                timer("vllm:e2e_request_latency", "Histogram of e2e request latency in seconds.", REQUEST_BUCKETS, tags),
                timer("vllm:request_queue_time", "Histogram of time spent in WAITING phase for request.",
                        REQUEST_BUCKETS, tags),
                Counter.builder("vllm:num_preemptions").tags(tags)
                        .description("Cumulative number of preemption from the engine.").register(registry),
                Counter.builder("vllm:prefix_cache_queries").tags(tags)
                        .description("Prefix cache queries, in terms of number of queried tokens.").register(registry),
                Counter.builder("vllm:prefix_cache_hits").tags(tags)
                        .description("Prefix cache hits, in terms of number of cached tokens.").register(registry));
    }

    private Timer timer(String name, String description, double[] buckets, Tags tags) {
        Duration[] slos = Arrays.stream(buckets).mapToObj(s -> Duration.ofNanos(Math.round(s * 1e9))).toArray(Duration[]::new);
        return Timer.builder(name).tags(tags).description(description).serviceLevelObjectives(slos).register(registry);
    }

    static double kvUsage(BatchScheduler s) {
        EngineSnapshot e = s.engineSnapshot();
        return e == null ? 0 : e.blockUsage();
    }

    private static double memory(BatchScheduler s, String kind) {
        EngineSnapshot e = s.engineSnapshot();
        if (e == null) return Double.NaN;
        EngineInfo i = e.info();
        return switch (kind) {
            case "weights" -> i.weightBytes();
            case "kv_cache" -> i.kvCacheBytes();
            case "workspace" -> i.workspaceBytes();
            default -> i.deviceTotalBytes();
        };
    }

    @Override
    public void onStep(int prefillTokens, int decodeTokens, long stepNanos) {
        Meters m = meters;
        if (m == null) return;
        if (prefillTokens > 0) m.promptTokens().increment(prefillTokens);
    }

    @Override
    public void onFirstToken(long queueNanos, long timeToFirstTokenNanos) {
        Meters m = meters;
        if (m == null) return;
        m.ttft().record(timeToFirstTokenNanos, TimeUnit.NANOSECONDS);
        m.queue().record(queueNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void onInterTokenLatency(long nanos) {
        Meters m = meters;
        if (m != null) m.itl().record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void onPrefixCacheLookup(int queriedTokens, int hitTokens) {
        Meters m = meters;
        if (m == null) return;
        m.prefixQueries().increment(queriedTokens);
        if (hitTokens > 0) m.prefixHits().increment(hitTokens);
    }

    @Override
    public void onPreemption() {
        Meters m = meters;
        if (m != null) m.preemptions().increment();
    }

    @Override
    public void onFinished(RequestOutcome o) {
        Meters m = meters;
        if (m == null) return;
        m.generationTokens().increment(o.completionTokens());
        m.e2e().record(o.e2eNanos(), TimeUnit.NANOSECONDS);
        // vLLM counts every finished request here, labelled stop, length or abort.
        String reason = switch (o.finishReason()) {
            case "stop", "length" -> o.finishReason();
            default -> "abort";
        };
        successByReason.computeIfAbsent(reason, r -> Counter.builder("vllm:request_success").tags(m.tags())
                .tag("finished_reason", r).description("Count of successfully processed requests.")
                .register(registry)).increment();
    }
}

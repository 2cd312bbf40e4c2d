package qwenchat.admin;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.availability.ApplicationAvailability;
import org.springframework.boot.availability.LivenessState;
import org.springframework.boot.availability.ReadinessState;
import qwenchat.engine.EngineInfo;
import qwenchat.engine.GpuMemory;
import qwenchat.presets.PresetStore;
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.EngineSnapshot;
import qwenchat.serving.LoadState;
import qwenchat.serving.LoadStatus;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.SchedulerStats;
import qwenchat.serving.StageTiming;

/** Assembles what the dashboard shows, from snapshots only: no engine calls, no user text. */
final class Overview {

    private final ModelRuntime runtime;
    private final BatchScheduler scheduler;
    private final ModelCards cards;
    private final DecodeLoopHealth loop;
    private final ApplicationAvailability availability;
    private final KernelManifest kernels;
    private final PresetStore presets;
    private final GpuMemorySource gpus;

    Overview(ModelRuntime runtime, BatchScheduler scheduler, ModelCards cards, DecodeLoopHealth loop,
            ApplicationAvailability availability, KernelManifest kernels, PresetStore presets, GpuMemorySource gpus) {
        this.presets = presets;
        this.gpus = gpus;
        this.runtime = runtime;
        this.scheduler = scheduler;
        this.cards = cards;
        this.loop = loop;
        this.availability = availability;
        this.kernels = kernels;
    }

    Map<String, Object> build() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model", cards.current());
        out.put("load", load(runtime.status()));
        SchedulerStats s = scheduler.stats();
        out.put("engine", engine(scheduler.engineSnapshot(), s));
        out.put("gpus", gpus(gpus.gpus()));
        out.put("kernels", kernels);
        out.put("health", health());
        // Why stored custom presets are not served (a corrupt or newer presets.json), else empty.
        out.put("presets", Map.of("custom", presets.exportCustom().size(),
                "problem", presets.problem().orElse("")));
        out.put("totals", Map.of("completed", s.completed(), "cancelled", s.cancelled(), "failed", s.failed(),
                "rejectedBusy", s.rejectedBusy(), "tokensGenerated", s.tokensGenerated(), "steps", s.steps(),
                "maxBatch", s.maxBatch(), "preemptions", s.preemptions()));
        return out;
    }

    private static Map<String, Object> load(LoadStatus s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("state", s.state().name());
        m.put("stage", s.stage().name());
        m.put("percent", Math.round(s.percent() * 10) / 10.0);
        m.put("modelName", s.modelName());
        m.put("demo", s.demo());
        m.put("error", s.error());
        List<Map<String, Object>> stages = new ArrayList<>();
        for (StageTiming t : s.stages()) {
            Map<String, Object> st = new LinkedHashMap<>();
            st.put("stage", t.stage().name());
            st.put("description", t.stage().description());
            st.put("startedAtEpochMillis", t.startedAtEpochMillis());
            st.put("durationMillis", t.durationMillis());
            stages.add(st);
        }
        m.put("stages", stages);
        return m;
    }

    private static Map<String, Object> engine(EngineSnapshot e, SchedulerStats s) {
        if (e == null) return null;
        EngineInfo i = e.info();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", i.kind());
        m.put("device", i.device());
        m.put("computeCapability", i.computeCapability());
        m.put("driverVersion", i.driverVersion());
        m.put("weightBytes", i.weightBytes());
        m.put("kvCacheBytes", i.kvCacheBytes());
        m.put("workspaceBytes", i.workspaceBytes());
        m.put("deviceTotalBytes", i.deviceTotalBytes());
        m.put("maxSequences", e.capacity().maxSequences());
        m.put("maxTokensPerSequence", e.capacity().maxTokensPerSequence());
        m.put("capacityTokens", e.capacityTokens());
        m.put("usedTokens", e.usedTokens());
        m.put("reservedTokens", e.reservedTokens());
        m.put("openSequences", e.openSequences());
        m.put("blockSize", e.kvBlocks().blockSize());
        m.put("totalBlocks", e.kvBlocks().totalBlocks());
        m.put("usedBlocks", e.kvBlocks().usedBlocks());
        m.put("preemptions", s.preemptions());
        // In tokens, as vLLM counts them: how much of the prompts looked up was already cached.
        m.put("prefixCache", Map.of("queries", s.prefixCacheQueries(), "hits", s.prefixCacheHits(),
                "hitRate", s.prefixCacheHitRate()));
        return m;
    }

    /** Each GPU's used and total memory, keyed as the metrics' {@code gpu} label. */
    static List<Map<String, Object>> gpus(List<GpuMemory> gpus) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (GpuMemory g : gpus) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("gpu", g.ordinal());
            m.put("name", g.name());
            m.put("usedBytes", g.usedBytes());
            m.put("totalBytes", g.totalBytes());
            out.add(m);
        }
        return out;
    }

    private Map<String, Object> health() {
        Map<String, Object> m = new LinkedHashMap<>();
        LoadStatus s = runtime.status();
        ReadinessState readiness = availability.getReadinessState();
        m.put("readiness", readiness.name());
        m.put("readinessReason", s.state() == LoadState.READY ? "model ready"
                : s.state() == LoadState.FAILED ? "model loading failed: " + s.error()
                : "model loading: " + s.stage().description() + " (" + Math.round(s.percent()) + "%)");
        String stall = loop.stallReason();
        boolean live = availability.getLivenessState() == LivenessState.CORRECT && scheduler.loopAlive() && stall == null;
        m.put("liveness", live ? "CORRECT" : "BROKEN");
        m.put("livenessReason", !scheduler.loopAlive() ? "the generation loop crashed"
                : stall != null ? stall
                : availability.getLivenessState() != LivenessState.CORRECT ? "the application reported it is broken"
                : "decode loop responsive");
        m.put("heartbeatMillisAgo", scheduler.heartbeat().sinceLastBeatNanos() / 1_000_000);
        long stepping = scheduler.heartbeat().stepRunningNanos();
        m.put("stepRunningMillis", stepping < 0 ? null : stepping / 1_000_000);
        m.put("uptimeSeconds", ManagementFactory.getRuntimeMXBean().getUptime() / 1000);
        return m;
    }
}

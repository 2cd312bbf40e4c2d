package qwenchat.admin;

import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import qwenchat.engine.EngineInfo;
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.EngineSnapshot;

/**
 * The {@code engine} contributor: device and memory from the snapshot the scheduler's loop thread
 * takes, never a call into the engine (CUDA contexts are per thread). In no probe group, so a GPU
 * problem shows here without restarting the pod.
 */
final class EngineHealth implements HealthIndicator {

    private final BatchScheduler scheduler;

    EngineHealth(BatchScheduler scheduler) {
        this.scheduler = scheduler;
    }

    @Override
    public Health health() {
        EngineSnapshot s = scheduler.engineSnapshot();
        if (s == null) return Health.unknown().withDetail("reason", "no model is loaded yet").build();
        EngineInfo i = s.info();
        Health.Builder b = scheduler.loopAlive() ? Health.up() : Health.down();
        b.withDetail("kind", i.kind()).withDetail("device", i.device());
        if (i.computeCapability() != null) b.withDetail("computeCapability", i.computeCapability());
        if (i.driverVersion() != null) b.withDetail("driverVersion", i.driverVersion());
        return b.withDetail("weightBytes", i.weightBytes())
                .withDetail("kvCacheBytes", i.kvCacheBytes())
                .withDetail("workspaceBytes", i.workspaceBytes())
                .withDetail("deviceTotalBytes", i.deviceTotalBytes())
                .withDetail("openSequences", s.openSequences())
                .withDetail("kvUsedTokens", s.usedTokens())
                .withDetail("kvCapacityTokens", s.capacityTokens())
                .withDetail("snapshotAtEpochMillis", s.takenAtEpochMillis())
                .build();
    }
}

package qwenchat.admin;

import java.time.Duration;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.LoopHeartbeat;

/**
 * The {@code decodeLoop} contributor of the liveness group: DOWN when an engine step has run longer
 * than {@code qwen.admin.stall-timeout}, or requests have been in flight that long without the
 * loop beating. An idle loop is never stalled. It reads only the heartbeat, never the GPU, so a busy or
 * failing device cannot cascade into restarts through this check.
 */
final class DecodeLoopHealth implements HealthIndicator {

    private final BatchScheduler scheduler;
    private final Duration stallTimeout;

    DecodeLoopHealth(BatchScheduler scheduler, Duration stallTimeout) {
        this.scheduler = scheduler;
        this.stallTimeout = stallTimeout;
    }

    /** Why the loop counts as stalled, or null when it does not. */
    String stallReason() {
        LoopHeartbeat hb = scheduler.heartbeat();
        long limit = stallTimeout.toNanos();
        long stepping = hb.stepRunningNanos();
        if (stepping > limit) {
            return "an engine step has been running for " + stepping / 1_000_000 + " ms (stall timeout "
                    + stallTimeout.toMillis() + " ms)";
        }
        // Outside a step the loop also hangs if a listener blocks it: work in flight and no beat.
        int waiting = scheduler.waitingCount();
        long since = hb.sinceLastBeatNanos();
        if ((hb.working() || waiting > 0) && since > limit) {
            return "requests are in flight (" + waiting + " waiting) but the decode loop has not run for "
                    + since / 1_000_000 + " ms";
        }
        return null;
    }

    @Override
    public Health health() {
        LoopHeartbeat hb = scheduler.heartbeat();
        String stall = stallReason();
        Health.Builder b = stall != null || !scheduler.loopAlive() ? Health.down() : Health.up();
        b.withDetail("lastBeatMillisAgo", hb.sinceLastBeatNanos() / 1_000_000)
                .withDetail("stallTimeoutMillis", stallTimeout.toMillis())
                .withDetail("waiting", scheduler.waitingCount())
                .withDetail("running", scheduler.runningCount());
        long stepping = hb.stepRunningNanos();
        if (stepping >= 0) b.withDetail("stepRunningMillis", stepping / 1_000_000);
        if (stall != null) b.withDetail("reason", stall);
        if (!scheduler.loopAlive()) b.withDetail("reason", "the generation loop crashed; see the server log");
        return b.build();
    }
}

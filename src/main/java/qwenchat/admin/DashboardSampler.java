package qwenchat.admin;

import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;

/** Once a second: closes a {@link Sample}, keeps it in the history and pushes it with the overview to open dashboards. */
final class DashboardSampler implements DisposableBean {

    private static final Logger log = LoggerFactory.getLogger(DashboardSampler.class);

    private final LiveStats stats;
    private final SampleHistory history;
    private final AdminEvents events;
    private final Overview overview;
    private final ScheduledExecutorService timer;

    DashboardSampler(LiveStats stats, SampleHistory history, AdminEvents events, Overview overview) {
        this.stats = stats;
        this.history = history;
        this.events = events;
        this.overview = overview;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "admin-sampler");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleAtFixedRate(this::tick, 1, 1, TimeUnit.SECONDS);
    }

    private void tick() {
        try {
            Sample s = stats.tick(System.currentTimeMillis() / 1000);
            history.add(s);
            if (events.size() > 0) events.publish("tick", Map.of("sample", s, "overview", overview.build()));
        } catch (RuntimeException e) {
            // A failed tick must not cancel the schedule (an exception would stop it for good).
            log.warn("dashboard sample failed", e);
        }
    }

    @Override
    public void destroy() {
        timer.shutdownNow();
        events.closeAll();
    }
}

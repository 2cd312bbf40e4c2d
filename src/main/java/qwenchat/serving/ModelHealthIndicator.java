package qwenchat.serving;

import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import qwenchat.clienttext.PublicText;

/**
 * The {@code model} health contributor, part of the readiness group: OUT_OF_SERVICE while loading
 * (with stage and percent), DOWN with the reason after a failed load, UP once ready.
 */
final class ModelHealthIndicator implements HealthIndicator {

    private final ModelRuntime runtime;

    ModelHealthIndicator(ModelRuntime runtime) {
        this.runtime = runtime;
    }

    @Override
    public Health health() {
        LoadStatus s = runtime.status();
        Health.Builder b = switch (s.state()) {
            case READY -> Health.up();
            case LOADING -> Health.outOfService();
            case FAILED -> Health.down();
        };
        b.withDetail("state", s.state().name())
                .withDetail("stage", s.stage().name())
                .withDetail("stageDescription", s.stage().description())
                .withDetail("percent", Math.round(s.percent() * 10) / 10.0)
                .withDetail("model", s.modelName())
                .withDetail("demo", s.demo());
        if (s.state() == LoadState.LOADING && (s.stage() == LoadStage.LOAD_WEIGHTS || s.stage() == LoadStage.DOWNLOAD_MODEL)) {
            b.withDetail("bytesDone", s.bytesDone()).withDetail("bytesTotal", s.bytesTotal())
                    .withDetail("tensorsDone", s.tensorsDone()).withDetail("tensorsTotal", s.tensorsTotal());
            if (s.etaMillis() != null) b.withDetail("etaMillis", s.etaMillis());
        }
        // Readiness is public: the reason without server paths; the log and the admin dashboard have it whole.
        if (s.error() != null) b.withDetail("error", PublicText.of(s.error()));
        return b.build();
    }
}

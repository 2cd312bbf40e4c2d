package qwenchat.serving;

import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.event.EventListener;

/**
 * Keeps Spring's readiness state in step with the model: Spring Boot declares the application
 * ACCEPTING_TRAFFIC as soon as it has started, which is too early while weights still load, so
 * that is turned back to REFUSING_TRAFFIC until the model is READY.
 */
final class ReadinessPublisher {

    private final ModelRuntime runtime;
    private final ApplicationEventPublisher events;

    ReadinessPublisher(ModelRuntime runtime, ApplicationEventPublisher events) {
        this.runtime = runtime;
        this.events = events;
        runtime.onStatus(this::onStatus);
    }

    @EventListener
    void onReadiness(AvailabilityChangeEvent<ReadinessState> event) {
        if (event.getState() == ReadinessState.ACCEPTING_TRAFFIC && runtime.status().state() != LoadState.READY) {
            AvailabilityChangeEvent.publish(events, this, ReadinessState.REFUSING_TRAFFIC);
        }
    }

    private void onStatus(LoadStatus s) {
        if (s.state() == LoadState.READY) {
            AvailabilityChangeEvent.publish(events, this, ReadinessState.ACCEPTING_TRAFFIC);
        } else if (s.state() == LoadState.FAILED) {
            AvailabilityChangeEvent.publish(events, this, ReadinessState.REFUSING_TRAFFIC);
        }
    }
}

package qwenchat.serving;

import java.util.Optional;
import java.util.function.Consumer;

/**
 * Owns model startup (the readiness gate): the HTTP port opens at once while this loads the model
 * in the background through the {@link LoadStage}s, then exposes what serving needs.
 */
public interface ModelRuntime {

    LoadStatus status();

    /** Called on every status change (at most every ~100 ms during weight loading). Returns a handle to unsubscribe. */
    AutoCloseable onStatus(Consumer<LoadStatus> listener);

    /** Present once {@link LoadState#READY}. */
    Optional<ServedModel> served();
}

package qwenchat.web;

import java.util.Optional;
import java.util.function.Consumer;
import qwenchat.serving.LoadStatus;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.ServedModel;

/** Stands in when the application context has no {@link ModelRuntime}: permanently failed, with the reason. */
final class NoModelRuntime implements ModelRuntime {

    @Override
    public LoadStatus status() {
        return StatusFrames.noRuntime();
    }

    @Override
    public AutoCloseable onStatus(Consumer<LoadStatus> listener) {
        return () -> { };
    }

    @Override
    public Optional<ServedModel> served() {
        return Optional.empty();
    }
}

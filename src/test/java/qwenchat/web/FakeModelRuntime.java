package qwenchat.web;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import qwenchat.serving.LoadStage;
import qwenchat.serving.LoadState;
import qwenchat.serving.LoadStatus;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.ServedModel;
import qwenchat.serving.StageTiming;

/** A runtime whose loading the test drives by hand. */
public class FakeModelRuntime implements ModelRuntime {

    private final List<Consumer<LoadStatus>> listeners = new CopyOnWriteArrayList<>();
    private volatile LoadStatus status = loadingStatus(0);
    private volatile ServedModel served;

    public static LoadStatus loadingStatus(double percent) {
        return new LoadStatus(LoadState.LOADING, LoadStage.LOAD_WEIGHTS, percent, (long) (percent * 10), 1000,
                (int) percent, 100, "model.layers.0.mlp.up_proj.weight", 5000L, null, "demo weights (random)", true,
                List.of(new StageTiming(LoadStage.RESOLVE_MODEL, 1000, 5L), new StageTiming(LoadStage.LOAD_WEIGHTS, 1005, null)));
    }

    public void loading(double percent) {
        served = null;
        publish(loadingStatus(percent));
    }

    public void ready(ServedModel model) {
        served = model;
        publish(new LoadStatus(LoadState.READY, LoadStage.READY, 100, 1000, 1000, 100, 100, null, 0L, null,
                model.name(), model.demo(), List.of(new StageTiming(LoadStage.READY, 2000, 0L))));
    }

    public void fail(String error) {
        served = null;
        publish(new LoadStatus(LoadState.FAILED, LoadStage.VALIDATE_FILES, 5, 0, 0, 0, 0, null, null, error,
                "broken", false, List.of()));
    }

    private void publish(LoadStatus s) {
        status = s;
        listeners.forEach(l -> l.accept(s));
    }

    public int subscribers() {
        return listeners.size();
    }

    @Override
    public LoadStatus status() {
        return status;
    }

    @Override
    public AutoCloseable onStatus(Consumer<LoadStatus> listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    @Override
    public Optional<ServedModel> served() {
        return Optional.ofNullable(served);
    }
}

package qwenchat.admin;

import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qwenchat.weights.ModelDirectory;
import qwenchat.serving.LoadState;
import qwenchat.serving.LoadStatus;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.ServedModel;
import qwenchat.weights.Checkpoint;

/**
 * Builds the {@link ModelCard} once the model is ready. The bias norms read the checkpoint on a
 * thread of their own, once, so neither loading nor serving waits for them.
 */
final class ModelCards {

    private static final Logger log = LoggerFactory.getLogger(ModelCards.class);

    private final ModelRuntime runtime;
    private volatile ModelCard card;
    private volatile boolean started;

    ModelCards(ModelRuntime runtime) {
        this.runtime = runtime;
        runtime.onStatus(this::onStatus);
        onStatus(runtime.status());
    }

    /** The card; null until the model is ready. */
    ModelCard current() {
        return card;
    }

    private void onStatus(LoadStatus s) {
        if (s.state() != LoadState.READY) return;
        ServedModel m = runtime.served().orElse(null);
        if (m == null) return;
        synchronized (this) {
            if (started) return;
            started = true;
        }
        card = ModelCard.of(m, null, null);
        Thread.ofVirtual().name("model-card").start(() -> computeNorms(m));
    }

    private void computeNorms(ServedModel m) {
        try (Checkpoint checkpoint = ModelDirectory.resolve(Path.of(m.sourceDirectory())).openCheckpoint()) {
            ModelCard.BiasNorms norms = BiasNormReader.read(checkpoint, m.config().numHiddenLayers());
            card = ModelCard.of(m, norms != null, norms);
        } catch (RuntimeException e) {
            log.warn("cannot compute the q/k/v bias norms of {}: {}", m.sourceDirectory(), e.getMessage());
        }
    }
}

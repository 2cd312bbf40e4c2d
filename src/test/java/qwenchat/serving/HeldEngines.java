package qwenchat.serving;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import qwenchat.engine.EngineException;

/** For tests outside this package: the real engine factory, held at the weights stage until a latch opens. */
public final class HeldEngines {

    private HeldEngines() {
    }

    public static EngineFactory heldUntil(CountDownLatch release, QwenProperties properties) {
        EngineFactory real = new DefaultEngineFactory(properties);
        return (config, checkpoint, capacity, progress) -> {
            try {
                if (!release.await(120, TimeUnit.SECONDS)) throw new EngineException("the test never released loading");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new EngineException("interrupted", e);
            }
            return real.create(config, checkpoint, capacity, progress);
        };
    }
}

package qwenchat.serving;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import qwenchat.tokenizer.ChatMessage;

/** The demo model loaded outside Spring, with a scheduler on it, for scheduler tests. */
final class DemoServing implements AutoCloseable {

    static final String DEMO_DIR = "target/qwen-chat-demo-v1";

    final ModelLoader loader;
    final BatchScheduler scheduler;
    final List<Object> events = new CopyOnWriteArrayList<>();

    DemoServing(int kvMaxSequences, int queueLimit, Duration timeout) throws InterruptedException {
        this(kvMaxSequences, queueLimit, timeout, java.util.function.UnaryOperator.identity());
    }

    /** With {@code wrap} applied to the engine, for tests that break it on purpose. */
    DemoServing(int kvMaxSequences, int queueLimit, Duration timeout,
            java.util.function.UnaryOperator<qwenchat.engine.InferenceEngine> wrap) throws InterruptedException {
        this(new QwenProperties(null, DEMO_DIR, "cpu", kvMaxSequences, null, queueLimit, timeout, 2, List.of(), 1 << 20),
                wrap);
    }

    /** With settings of the test's own, e.g. a tiny KV pool. */
    DemoServing(QwenProperties p, java.util.function.UnaryOperator<qwenchat.engine.InferenceEngine> wrap)
            throws InterruptedException {
        EngineFactory real = new DefaultEngineFactory(p);
        loader = new ModelLoader(p, (config, checkpoint, capacity, progress) ->
                wrap.apply(real.create(config, checkpoint, capacity, progress)));
        scheduler = new BatchScheduler(p, loader, events::add);
        loader.onReady(scheduler::attach);
        loader.start();
        LoadWait.settled(loader, Duration.ofSeconds(120));
        if (loader.status().state() != LoadState.READY) throw new IllegalStateException("demo did not load: " + loader.status());
    }

    ServedModel served() {
        return loader.served().orElseThrow();
    }

    int[] prompt(String user) {
        return served().chatTemplate().render(List.of(new ChatMessage("user", user)), true).ids();
    }

    @Override
    public void close() {
        scheduler.stop();
        loader.stop();
    }
}

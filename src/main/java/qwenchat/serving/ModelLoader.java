package qwenchat.serving;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.SmartInitializingSingleton;
import qwenchat.engine.InferenceEngine;
import qwenchat.demo.DemoCheckpoint;
import qwenchat.hub.HubProperties;
import qwenchat.hub.ModelDownloader;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.model.ModelConfig;
import qwenchat.model.RopeScalingSetting;
import qwenchat.weights.ModelDirectory;
import qwenchat.tokenizer.ChatTemplate;

/**
 * The readiness gate: loads the model on a background thread while the HTTP port is already open,
 * stage by stage, publishing a {@link LoadStatus} that the health endpoint and the loading screen
 * show. On success the model is handed to the scheduler; on failure everything is closed and the
 * status says why, for good (a restart is the way to retry).
 */
public final class ModelLoader implements ModelRuntime, SmartInitializingSingleton, DisposableBean {

    private static final Logger log = LoggerFactory.getLogger(ModelLoader.class);
    private static final long PUBLISH_INTERVAL_NANOS = 100_000_000L;

    // Overall percent where each stage starts; weights dominate. A download reports its own 0..100
    // in DOWNLOAD_MODEL (it can take far longer than everything after it), then loading starts at 0.
    private static final double[] STAGE_START = {0, 0, 2, 5, 95, 98, 100};

    private final QwenProperties properties;
    private final EngineFactory engines;
    private final HubProperties hub;   // null or disabled: no download
    private final List<Consumer<LoadStatus>> listeners = new CopyOnWriteArrayList<>();
    private final List<Consumer<LoadedModel>> readyHooks = new CopyOnWriteArrayList<>();

    private final Object lock = new Object();
    private LoadStatus status;
    private final List<StageTiming> stages = new ArrayList<>();
    private long weightsStartNanos;
    private long lastPublishNanos;

    private volatile LoadedModel loaded;
    private volatile Thread thread;
    private InferenceEngine engine;   // owned here until close
    private ModelFiles files;

    public ModelLoader(QwenProperties properties, EngineFactory engines) {
        this(properties, engines, null);
    }

    /** With {@code hub} enabled and no model directory configured, the model is downloaded first. */
    public ModelLoader(QwenProperties properties, EngineFactory engines, HubProperties hub) {
        this.properties = properties;
        this.engines = engines;
        this.hub = hub;
        boolean download = downloads();
        this.status = new LoadStatus(LoadState.LOADING, download ? LoadStage.DOWNLOAD_MODEL : LoadStage.RESOLVE_MODEL,
                0, 0, 0, 0, 0, null, null, null,
                download ? hub.model() : properties.modelDir() == null ? ModelDirectory.DEMO_LABEL : properties.modelDir(),
                properties.modelDir() == null && !download, List.of());
    }

    private boolean downloads() {
        return properties.modelDir() == null && hub != null && hub.enabled();
    }

    @Override
    public LoadStatus status() {
        synchronized (lock) {
            return status;
        }
    }

    @Override
    public AutoCloseable onStatus(Consumer<LoadStatus> listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    @Override
    public Optional<ServedModel> served() {
        LoadedModel m = loaded;
        return m == null ? Optional.empty() : Optional.of(m.served());
    }

    /** Runs {@code hook} with the loaded model just before the status turns READY. */
    void onReady(Consumer<LoadedModel> hook) {
        readyHooks.add(hook);
    }

    /**
     * Starts loading once all beans exist (so the scheduler has registered for the model). Not a
     * SmartLifecycle: a lifecycle stop/start (Spring pauses cached test contexts that way) must not
     * unload and reload the model.
     */
    @Override
    public void afterSingletonsInstantiated() {
        start();
    }

    /** Closes the engine after the web server has drained and the scheduler has stopped (it depends on this bean). */
    @Override
    public void destroy() {
        stop();
    }

    public void start() {
        Thread t = new Thread(this::load, "model-loader");
        t.setDaemon(true);
        thread = t;
        t.start();
    }

    public void stop() {
        Thread t = thread;
        if (t != null) {
            t.interrupt();
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        closeResources();
    }

    private void load() {
        try {
            Path downloaded = null;
            if (downloads()) {
                stage(LoadStage.DOWNLOAD_MODEL);
                downloaded = new ModelDownloader(hub).fetch(this::downloadProgress);
            }
            stage(LoadStage.RESOLVE_MODEL);
            Path dir = properties.modelDir() != null ? Path.of(properties.modelDir())
                    : downloaded != null ? downloaded : demoDirectory();

            stage(LoadStage.VALIDATE_FILES);
            ModelFiles f = ModelFiles.open(ModelDirectory.resolve(dir));
            synchronized (lock) {
                files = f;
            }
            int tensorsTotal = f.checkpoint().tensorNames().size();
            long bytesTotal = f.checkpoint().totalBytes();

            stage(LoadStage.LOAD_WEIGHTS);
            ModelDirectory md = f.directory();
            ModelConfig config = RopeScalingSetting.parse(properties.ropeScaling()).applyTo(md.config());
            if (config != md.config()) {
                log.info("qwen.rope-scaling={}: YaRN over {} native positions, context {} tokens",
                        properties.ropeScaling(), config.ropeScaling().originalMaxPositionEmbeddings(),
                        config.contextLength());
            }
            boolean onGpu = engines.kvCacheOnGpu();
            int perSequence = properties.tokensPerSequence(config.contextLength(), onGpu);
            KvCachePlanner.Plan kvPlan = KvCachePlanner.plan(properties, config, onGpu,
                    onGpu ? engines.kvCacheBudgetBytes(config, properties.gpuMemoryUtilization(), perSequence)
                            : OptionalLong.empty());
            KvCacheCapacity capacity = kvPlan.capacity();
            log.info("{} (at most {} sequence{} of up to {} tokens)", kvPlan.sizing().logLine(), capacity.maxSequences(),
                    capacity.maxSequences() == 1 ? "" : "s", capacity.maxTokensPerSequence());
            int[] tensorsDone = {0};
            weightsStartNanos = System.nanoTime();
            InferenceEngine e = engines.create(config, f.checkpoint(), capacity, (done, total, tensor) -> {
                tensorsDone[0]++;
                weightProgress(done, total, tensorsDone[0], tensorsTotal, tensor);
                if (Thread.currentThread().isInterrupted()) throw new IllegalStateException("loading was cancelled");
            });
            synchronized (lock) {
                engine = e;
            }
            weightProgress(bytesTotal, bytesTotal, tensorsTotal, tensorsTotal, null);

            ChatTemplate template = ChatTemplate.forDirectory(f.tokenizer(), md.dir());
            ServedModel served = new ServedModel(md.demo() ? ModelDirectory.DEMO_LABEL : md.displayName(),
                    dir.toAbsolutePath().toString(), md.demo(), config, md.generation(), f.tokenizer(), template,
                    e.info(), Math.min(config.contextLength(), e.capacity().maxTokensPerSequence()));

            stage(LoadStage.WARM_UP);
            SelfCheck.warmUp(e, template, md.generation());

            stage(LoadStage.SELF_CHECK);
            SelfCheck.check(e, template, f.tokenizer());

            LoadedModel model = new LoadedModel(served, e);
            for (Consumer<LoadedModel> hook : readyHooks) hook.accept(model);
            loaded = model;
            stage(LoadStage.READY);
            log.info("model {} ready: {} ({} s)", served.name(), e.info().device(), elapsedSeconds());
        } catch (Throwable t) {
            String reason = reason(t);
            log.error("model loading failed in stage {}: {}", status().stage(), reason, t);
            closeResources();
            update(s -> new LoadStatus(LoadState.FAILED, s.stage(), s.percent(), s.bytesDone(), s.bytesTotal(),
                    s.tensorsDone(), s.tensorsTotal(), s.currentTensor(), null, reason, s.modelName(), s.demo(),
                    finishStage()), true);
        }
    }

    /** The demo checkpoint, generated on first use; no model directory was configured. */
    private Path demoDirectory() {
        Path dir = properties.demoDir() != null ? Path.of(properties.demoDir()) : DemoCheckpoint.defaultDirectory();
        return DemoCheckpoint.ensure(dir).dir();
    }

    private static String reason(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }

    private double elapsedSeconds() {
        synchronized (lock) {
            return stages.isEmpty() ? 0 : (System.currentTimeMillis() - stages.get(0).startedAtEpochMillis()) / 1000.0;
        }
    }

    private void stage(LoadStage next) {
        if (Thread.currentThread().isInterrupted()) throw new IllegalStateException("loading was cancelled");
        update(s -> {
            // Download bytes are not weight bytes: the loading stages start their own count.
            boolean fromDownload = s.stage() == LoadStage.DOWNLOAD_MODEL;
            List<StageTiming> timings = finishStage();
            if (next != LoadStage.READY) {
                synchronized (lock) {
                    stages.add(new StageTiming(next, System.currentTimeMillis(), null));
                    timings = List.copyOf(stages);
                }
            }
            return new LoadStatus(next == LoadStage.READY ? LoadState.READY : LoadState.LOADING, next,
                    STAGE_START[next.ordinal()], fromDownload ? 0 : s.bytesDone(), fromDownload ? 0 : s.bytesTotal(),
                    s.tensorsDone(), s.tensorsTotal(),
                    null, next == LoadStage.READY ? Long.valueOf(0) : null, null,
                    next == LoadStage.READY ? loaded.served().name() : s.modelName(), s.demo(), timings);
        }, true);
    }

    /** Closes the running stage's timing and returns all timings. */
    private List<StageTiming> finishStage() {
        synchronized (lock) {
            if (!stages.isEmpty()) {
                StageTiming last = stages.get(stages.size() - 1);
                if (last.durationMillis() == null) {
                    stages.set(stages.size() - 1, new StageTiming(last.stage(), last.startedAtEpochMillis(),
                            System.currentTimeMillis() - last.startedAtEpochMillis()));
                }
            }
            return List.copyOf(stages);
        }
    }

    private void downloadProgress(String file, long done, long total) {
        double percent = total > 0 ? 100.0 * done / total : 0;
        update(s -> new LoadStatus(LoadState.LOADING, LoadStage.DOWNLOAD_MODEL, percent, done, total, 0, 0, file,
                null, null, s.modelName(), s.demo(), s.stages()), done >= total);
    }

    private void weightProgress(long done, long total, int tensorsDone, int tensorsTotal, String tensor) {
        double fraction = total > 0 ? (double) done / total : 1;
        double percent = STAGE_START[LoadStage.LOAD_WEIGHTS.ordinal()]
                + fraction * (STAGE_START[LoadStage.WARM_UP.ordinal()] - STAGE_START[LoadStage.LOAD_WEIGHTS.ordinal()]);
        long elapsed = System.nanoTime() - weightsStartNanos;
        Long eta = fraction > 0.01 ? Long.valueOf((long) (elapsed / 1e6 * (1 - fraction) / fraction)) : null;
        boolean last = done >= total;
        update(s -> new LoadStatus(LoadState.LOADING, LoadStage.LOAD_WEIGHTS, percent, done, total, tensorsDone,
                tensorsTotal, tensor, eta, null, s.modelName(), s.demo(), s.stages()), last);
    }

    private void update(java.util.function.UnaryOperator<LoadStatus> change, boolean force) {
        LoadStatus next;
        boolean publish;
        synchronized (lock) {
            next = change.apply(status);
            status = next;
            long now = System.nanoTime();
            publish = force || now - lastPublishNanos >= PUBLISH_INTERVAL_NANOS;
            if (publish) lastPublishNanos = now;
        }
        if (!publish) return;
        for (Consumer<LoadStatus> l : listeners) {
            try {
                l.accept(next);
            } catch (RuntimeException e) {
                log.warn("a load status listener failed", e);
            }
        }
    }

    private void closeResources() {
        InferenceEngine e;
        ModelFiles f;
        synchronized (lock) {
            e = engine;
            f = files;
            engine = null;
            files = null;
        }
        loaded = null;
        if (e != null) {
            try {
                e.close();
            } catch (RuntimeException ex) {
                log.warn("closing the engine failed", ex);
            }
        }
        if (f != null) f.close();
    }
}

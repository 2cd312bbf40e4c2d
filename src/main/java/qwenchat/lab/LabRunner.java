package qwenchat.lab;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import qwenchat.engine.BiasMask;
import qwenchat.engine.LabPass;
import qwenchat.engine.LabProbe;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.generation.FinishReason;
import qwenchat.generation.GenerationRequest;
import qwenchat.generation.GenerationUsage;
import qwenchat.generation.Priority;
import qwenchat.serving.GeneratedToken;
import qwenchat.serving.GenerationException;
import qwenchat.serving.GenerationHandle;
import qwenchat.serving.GenerationListener;
import qwenchat.serving.GenerationService;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.NotReady;
import qwenchat.serving.ServedModel;
import qwenchat.tokenizer.ChatMessage;

/**
 * Runs one lab experiment: the templated prompt twice through the scheduler as background requests
 * (never ahead of a chat user), once with every bias and once with the chosen ones left out, each
 * continued greedily and probed at the last prompt position.
 */
public final class LabRunner {

    private final GenerationService service;
    private final ModelRuntime runtime;
    private final Duration timeout;
    private final LabHistory history;

    public LabRunner(GenerationService service, ModelRuntime runtime, Duration timeout, LabHistory history) {
        this.service = service;
        this.runtime = runtime;
        this.timeout = timeout;
        this.history = history;
    }

    /**
     * @throws IllegalArgumentException naming the field when the request does not fit the model
     * @throws GenerationException when the model is not ready, the server is busy, or a run fails
     */
    public LabResult run(LabRequest request) throws InterruptedException {
        ServedModel m = runtime.served().orElseThrow(() -> NotReady.of(runtime.status()));
        int layers = m.config().numHiddenLayers();
        BiasMask ablated = request.mask(layers);
        int[] prompt = m.chatTemplate().render(List.of(new ChatMessage("user", request.prompt())), true).ids();
        String id = UUID.randomUUID().toString();
        Run live = submit(id + "-live", prompt, request.maxTokens(), BiasMask.none(layers), m);
        Run cut;
        try {
            cut = submit(id + "-ablated", prompt, request.maxTokens(), ablated, m);
        } catch (RuntimeException e) {
            live.handle.cancel();
            throw e;
        }
        try {
            long deadline = System.nanoTime() + timeout.toNanos();
            LabResult.Continuation a = live.await(deadline, timeout);
            LabResult.Continuation b = cut.await(deadline, timeout);
            LabMeasurements x = LabMeasurements.of(live.probe(), cut.probe());
            LabResult r = new LabResult(id, m.name(), m.demo(), request, prompt.length, a, b, x,
                    LabResult.texts(x.liveTop1(), t -> m.tokenizer().decode(new int[] {t})),
                    LabResult.texts(x.ablatedTop1(), t -> m.tokenizer().decode(new int[] {t})));
            history.add(r);
            return r;
        } finally {
            live.handle.cancel();
            cut.handle.cancel();
        }
    }

    private Run submit(String requestId, int[] prompt, int maxTokens, BiasMask mask, ServedModel m) {
        Run run = new Run();
        GenerationRequest r = new GenerationRequest(requestId, prompt, maxTokens, SamplingParams.greedyDecoding(),
                List.of(), 0, null, Priority.BACKGROUND, new LabPass(mask, p -> run.probe.compareAndSet(null, p)));
        run.handle = service.submit(r, run);
        return run;
    }

    /** One of the two generations: its tokens, text and probe, handed over from the scheduler thread. */
    private static final class Run implements GenerationListener {
        final AtomicReference<LabProbe> probe = new AtomicReference<>();
        final CompletableFuture<LabResult.Continuation> done = new CompletableFuture<>();
        final List<Integer> ids = new ArrayList<>();
        final StringBuilder text = new StringBuilder();
        GenerationHandle handle;

        @Override
        public void onStart(int promptTokens) {
        }

        @Override
        public synchronized void onToken(GeneratedToken token) {
            ids.add(token.id());
            text.append(token.text());
        }

        @Override
        public synchronized void onComplete(FinishReason reason, String tailText, GenerationUsage usage) {
            if (reason == FinishReason.TIMEOUT || reason == FinishReason.CANCELLED) {
                // Background runs wait behind every chat request, so a busy server is the usual cause.
                done.completeExceptionally(new GenerationException(GenerationException.Code.BUSY,
                        "the lab run was stopped before it finished (" + reason.wireName()
                                + "; chat requests go first); try again when the server is quieter"));
                return;
            }
            text.append(tailText);
            done.complete(new LabResult.Continuation(ids.stream().mapToInt(Integer::intValue).toArray(), text.toString()));
        }

        @Override
        public void onError(GenerationException error) {
            done.completeExceptionally(error);
        }

        LabResult.Continuation await(long deadlineNanos, Duration timeout) throws InterruptedException {
            try {
                return done.get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                // Background runs wait behind every chat request, so a busy server is the usual cause.
                throw new GenerationException(GenerationException.Code.BUSY, "the lab run did not finish within "
                        + timeout.toSeconds() + " s (chat requests go first); try again when the server is quieter");
            } catch (ExecutionException e) {
                if (e.getCause() instanceof GenerationException g) throw g;
                throw new GenerationException(GenerationException.Code.ENGINE_FAILURE, "the lab run failed: "
                        + e.getCause().getMessage());
            }
        }

        LabProbe probe() {
            LabProbe p = probe.get();
            if (p == null) {
                throw new GenerationException(GenerationException.Code.ENGINE_FAILURE,
                        "the engine returned no measurements for the lab run");
            }
            return p;
        }
    }
}

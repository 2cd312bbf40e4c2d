package qwenchat.web;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import qwenchat.generation.FinishReason;
import qwenchat.serving.GeneratedToken;
import qwenchat.serving.GenerationException;
import qwenchat.serving.GenerationHandle;
import qwenchat.serving.GenerationListener;
import qwenchat.generation.GenerationRequest;
import qwenchat.serving.GenerationService;
import qwenchat.generation.GenerationUsage;

/**
 * Plays a scripted reply on its own thread, one token per "decode step", honouring cancel between
 * steps as the real scheduler does. Records every request and handle for assertions.
 */
public class FakeGenerationService implements GenerationService {

    /** What the next submits do: emit {@code tokens} (cycled up to {@code count}), {@code stepMillis} apart. */
    public record Script(List<String> tokens, int count, long stepMillis, String tail, FinishReason finish,
            GenerationException reject) {
        public static Script reply(String tail, String... tokens) {
            return new Script(List.of(tokens), tokens.length, 1, tail, FinishReason.STOP, null);
        }

        public static Script endless(long stepMillis) {
            return new Script(List.of("tok "), 1_000_000, stepMillis, "", FinishReason.LENGTH, null);
        }

        public static Script rejecting(GenerationException e) {
            return new Script(List.of(), 0, 0, "", FinishReason.STOP, e);
        }
    }

    public final class Handle implements GenerationHandle {
        final GenerationRequest request;
        volatile boolean cancelled;
        volatile boolean done;
        volatile int emittedAtCancel = -1;
        volatile int emitted;

        Handle(GenerationRequest request) {
            this.request = request;
        }

        public GenerationRequest request() {
            return request;
        }

        public boolean cancelled() {
            return cancelled;
        }

        public int emitted() {
            return emitted;
        }

        /**
         * Tokens emitted after cancel() until the listener's onComplete; -1 if either is missing.
         * Counted in steps rather than milliseconds, so a loaded machine cannot make it flaky.
         */
        public int tokensAfterCancel() {
            return emittedAtCancel < 0 || !done ? -1 : emitted - emittedAtCancel;
        }

        @Override
        public String requestId() {
            return request.requestId();
        }

        @Override
        public void cancel() {
            if (!cancelled) emittedAtCancel = emitted;
            cancelled = true;
        }

        @Override
        public boolean isDone() {
            return done;
        }
    }

    private volatile Script script = Script.reply("", "ok");
    private final List<Handle> handles = new CopyOnWriteArrayList<>();
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicInteger maxRunning = new AtomicInteger();

    public void script(Script s) {
        script = s;
    }

    public List<Handle> handles() {
        return handles;
    }

    public Handle last() {
        return handles.get(handles.size() - 1);
    }

    public int maxConcurrent() {
        return maxRunning.get();
    }

    public void reset() {
        handles.clear();
        maxRunning.set(0);
        script = Script.reply("", "ok");
    }

    @Override
    public GenerationHandle submit(GenerationRequest request, GenerationListener listener) {
        Script s = script;
        if (s.reject() != null) throw s.reject();
        Handle h = new Handle(request);
        handles.add(h);
        Thread.ofVirtual().start(() -> play(s, h, listener));
        return h;
    }

    private void play(Script s, Handle h, GenerationListener listener) {
        maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
        long start = System.currentTimeMillis();
        try {
            listener.onStart(h.request.promptIds().length);
            int n = Math.min(s.count(), h.request.maxNewTokens());
            for (int i = 0; i < n; i++) {
                if (h.cancelled) {
                    finish(h, listener, FinishReason.CANCELLED, "", i, start);
                    return;
                }
                Thread.sleep(s.stepMillis());
                listener.onToken(new GeneratedToken(i, s.tokens().get(i % s.tokens().size()), 0f, new int[0], new float[0]));
                h.emitted = i + 1;
            }
            finish(h, listener, h.cancelled ? FinishReason.CANCELLED
                    : n < s.count() ? FinishReason.LENGTH : s.finish(), s.tail(), n, start);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            running.decrementAndGet();
        }
    }

    private void finish(Handle h, GenerationListener listener, FinishReason reason, String tail, int tokens, long start) {
        long total = System.currentTimeMillis() - start;
        h.done = true;
        listener.onComplete(reason, tail, new GenerationUsage(h.request.promptIds().length, tokens, 0, 3, total,
                tokens > 1 ? (tokens - 1) * 1000.0 / Math.max(1, total) : 0));
    }

    @Override
    public int runningCount() {
        return running.get();
    }

    @Override
    public int waitingCount() {
        return 0;
    }
}

package qwenchat.web;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qwenchat.clienttext.InputText;
import qwenchat.clienttext.InvalidTextException;
import qwenchat.clienttext.PublicText;
import qwenchat.presets.Preset;
import qwenchat.presets.PresetStore;
import qwenchat.generation.FinishReason;
import qwenchat.sampling.SamplingPolicy;
import qwenchat.serving.GeneratedToken;
import qwenchat.serving.GenerationException;
import qwenchat.serving.GenerationHandle;
import qwenchat.serving.GenerationListener;
import qwenchat.generation.GenerationRequest;
import qwenchat.serving.GenerationService;
import qwenchat.generation.GenerationUsage;
import qwenchat.serving.LoadState;
import qwenchat.serving.LoadStatus;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.ServedModel;
import tools.jackson.databind.json.JsonMapper;

/** One open chat socket: at most one generation at a time, cancelled by {@code stop} or by closing. */
final class ChatConnection {

    private static final Logger log = LoggerFactory.getLogger(ChatConnection.class);

    /** Marks "a chat frame was accepted and is being submitted" before a handle exists. */
    private static final GenerationHandle SUBMITTING = new GenerationHandle() {
        public String requestId() { return "submitting"; }
        public void cancel() { }
        public boolean isDone() { return false; }
    };

    private final FrameSender out;
    private final ModelRuntime runtime;
    private final GenerationService generation;
    private final PresetStore presets;
    private final WebChatProperties limits;
    private final JsonMapper json;
    private final String timeoutMessage;
    private final SamplingPolicy policy;
    private final AtomicReference<GenerationHandle> active = new AtomicReference<>();
    private volatile boolean closed;

    ChatConnection(FrameSender out, ModelRuntime runtime, GenerationService generation, PresetStore presets,
            WebChatProperties limits, JsonMapper json, String timeoutMessage, SamplingPolicy policy) {
        this.out = out;
        this.policy = policy;
        this.timeoutMessage = timeoutMessage;
        this.runtime = runtime;
        this.generation = generation;
        this.presets = presets;
        this.limits = limits;
        this.json = json;
    }

    void send(Object frame) {
        out.send(json.writeValueAsString(frame));
    }

    void sendError(String id, String code, String message) {
        send(new ServerFrames.Error(id, code, message));
    }

    void status(LoadStatus status) {
        send(StatusFrames.of(status, runtime.served().orElse(null), policy.defaultMaxTokens()));
    }

    void onFrame(ClientFrame frame) {
        // Ids are echoed in frames and written to the request log: short, one line, no control characters.
        try {
            InputText.identifier("id", frame.id());
            InputText.identifier("ref", frame.ref());
        } catch (InvalidTextException e) {
            sendError(null, ChatRejection.INVALID_REQUEST, e.getMessage());
            return;
        }
        try {
            InputText.identifier("presetId", frame.presetId());
            InputText.identifier("type", frame.type());
        } catch (InvalidTextException e) {
            sendError("count".equals(frame.type()) ? frame.ref() : frame.id(), ChatRejection.INVALID_REQUEST, e.getMessage());
            return;
        }
        String type = frame.type() == null ? "" : frame.type();
        switch (type) {
            case "chat" -> chat(frame);
            case "stop" -> stop();
            case "count" -> count(frame);
            default -> sendError(frame.id(), ChatRejection.INVALID_REQUEST,
                    "unknown frame type '" + type + "'; expected chat, stop or count");
        }
    }

    private void chat(ClientFrame frame) {
        String id = frame.id() == null || frame.id().isBlank() ? UUID.randomUUID().toString() : frame.id();
        if (!active.compareAndSet(null, SUBMITTING)) {
            sendError(id, ChatRejection.GENERATION_IN_PROGRESS,
                    "a reply is still being generated on this connection; send stop first or wait for done");
            return;
        }
        try {
            ServedModel model = readyModel();
            PreparedChat chat = ChatPreparer.prepare(model, preset(frame.presetId()), frame.messages(),
                    frame.params(), policy, limits.maxMessages());
            GenerationRequest request = new GenerationRequest("ws-" + id, chat.prompt().ids(), chat.maxNewTokens(),
                    chat.sampling(), List.of(), 0);
            GenerationHandle handle = generation.submit(request,
                    new SocketListener(id, model.contextLength(), chat.maxNewTokens(), chat.presetId()));
            // On a fast engine the listener may already have finished and cleared SUBMITTING.
            active.compareAndSet(SUBMITTING, handle);
            if (closed) handle.cancel();
        } catch (ChatRejection e) {
            active.compareAndSet(SUBMITTING, null);
            sendError(id, e.code(), e.getMessage());
        } catch (GenerationException e) {
            active.compareAndSet(SUBMITTING, null);
            sendError(id, e.code().name().toLowerCase(), e.getMessage());
        } catch (RuntimeException e) {
            active.compareAndSet(SUBMITTING, null);
            log.error("chat {} failed before generation", id, e);
            sendError(id, ChatRejection.ENGINE_FAILURE, "internal error; see the server log");
        }
    }

    private void stop() {
        GenerationHandle h = active.get();
        if (h != null) h.cancel();
    }

    private void count(ClientFrame frame) {
        try {
            ServedModel model = readyModel();
            int tokens = ChatPreparer.render(model, preset(frame.presetId()), frame.messages(), limits.maxMessages()).ids().length;
            send(new ServerFrames.CountResult(frame.ref(), tokens, model.contextLength()));
        } catch (ChatRejection e) {
            sendError(frame.ref(), e.code(), e.getMessage());
        }
    }

    private ServedModel readyModel() {
        LoadStatus s = runtime.status();
        if (s.state() == LoadState.FAILED) {
            throw new ChatRejection(ChatRejection.MODEL_NOT_READY, "the model failed to load: " + PublicText.of(s.error()));
        }
        return runtime.served().orElseThrow(() -> new ChatRejection(ChatRejection.MODEL_NOT_READY,
                "model is loading (" + Math.round(s.percent()) + "%)"));
    }

    private Preset preset(String id) {
        String wanted = id == null || id.isBlank() ? "general" : id;
        return presets.find(wanted).orElseThrow(() ->
                new ChatRejection(ChatRejection.INVALID_REQUEST, "presetId '" + wanted + "' does not exist"));
    }

    /** Socket closed or client too slow: nobody will read the reply, so free its KV now. */
    void close() {
        closed = true;
        out.markClosed();
        GenerationHandle h = active.getAndSet(null);
        if (h != null) h.cancel();
    }

    void cancelForOverflow() {
        closed = true;
        GenerationHandle h = active.getAndSet(null);
        if (h != null) h.cancel();
    }

    /** Runs on the scheduler thread: serialise and enqueue only. */
    private final class SocketListener implements GenerationListener {
        private final String id;
        private final int contextLength;
        private final int maxTokens;
        private final String presetId;

        SocketListener(String id, int contextLength, int maxTokens, String presetId) {
            this.id = id;
            this.contextLength = contextLength;
            this.maxTokens = maxTokens;
            this.presetId = presetId;
        }

        @Override
        public void onStart(int promptTokens) {
            send(new ServerFrames.Start(id, promptTokens, contextLength, maxTokens, presetId));
        }

        @Override
        public void onToken(GeneratedToken token) {
            if (!token.text().isEmpty()) send(new ServerFrames.Delta(id, token.text()));
        }

        @Override
        public void onComplete(FinishReason reason, String tailText, GenerationUsage u) {
            if (tailText != null && !tailText.isEmpty()) send(new ServerFrames.Delta(id, tailText));
            finished();
            send(new ServerFrames.Done("done", id, reason.wireName(),
                    new ServerFrames.Usage(u.promptTokens(), u.completionTokens(), u.totalTokens()),
                    u.queueMillis(), u.timeToFirstTokenMillis(), u.totalMillis(), u.decodeTokensPerSecond(),
                    reason == FinishReason.TIMEOUT ? timeoutMessage : null));
        }

        @Override
        public void onError(GenerationException error) {
            if (error.code() == GenerationException.Code.ENGINE_FAILURE) log.error("generation {} failed", id, error);
            String message = error.code() == GenerationException.Code.ENGINE_FAILURE
                    ? "the engine failed: " + PublicText.of(error.getMessage()) : error.getMessage();
            finished();
            sendError(id, error.code().name().toLowerCase(), message);
        }

        /**
         * Frees the connection for the next chat. Runs before the done or error frame is queued: a
         * client may send its next chat the moment that frame arrives, which can be before this
         * thread gets to run again, and that chat must not be refused as still in progress.
         * Only this generation can be active, since a new chat frame is refused until this runs.
         */
        private void finished() {
            active.set(null);
        }
    }
}

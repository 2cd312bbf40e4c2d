package qwenchat.api;

import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RestController;
import qwenchat.clienttext.JsonProblems;
import qwenchat.presets.Preset;
import qwenchat.presets.PresetSampling;
import qwenchat.presets.PresetStore;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.generation.FinishReason;
import qwenchat.sampling.SamplingChoice;
import qwenchat.sampling.SamplingPolicy;
import qwenchat.serving.GeneratedToken;
import qwenchat.serving.GenerationException;
import qwenchat.serving.GenerationHandle;
import qwenchat.generation.GenerationRequest;
import qwenchat.serving.GenerationService;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.NotReady;
import qwenchat.serving.QwenProperties;
import qwenchat.serving.ServedModel;
import qwenchat.tokenizer.ChatMessage;
import qwenchat.tokenizer.ChatTemplate;
import qwenchat.tools.ToolCallExtractor;
import qwenchat.tools.ToolChoice;
import qwenchat.tools.ToolDefinition;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * {@code POST /v1/chat/completions}, OpenAI-compatible, streaming (SSE) or not. The request is
 * read and validated completely before the scheduler sees it; the response is written on a
 * virtual thread of its own (the request's for a stream), so a slow or vanished client never stalls
 * the scheduler. A stream's failed write cancels the generation; a non-streamed request polls its
 * connection instead, having nothing to write until the end.
 */
@RestController
public class ChatCompletionsController {

    private static final Logger log = LoggerFactory.getLogger(ChatCompletionsController.class);
    /** How often a non-streamed request checks that its client is still connected. */
    static final long HANG_UP_POLL_MILLIS = 100;
    static final String JSON_INSTRUCTION = "Respond with a single valid JSON object and nothing else.";

    private final ModelRuntime runtime;
    private final GenerationService generation;
    private final QwenProperties properties;
    private final PresetStore presets;
    private final OutputConstraints constraints;
    private final SamplingPolicy policy;

    public ChatCompletionsController(ModelRuntime runtime, GenerationService generation, QwenProperties properties,
            PresetStore presets, OutputConstraints constraints, SamplingPolicy policy) {
        this.constraints = constraints;
        this.policy = policy;
        this.runtime = runtime;
        this.generation = generation;
        this.properties = properties;
        this.presets = presets;
    }

    @PostMapping("/v1/chat/completions")
    public ResponseEntity<String> complete(HttpServletRequest request, HttpServletResponse response) throws Exception {
        return answer(ChatRequestParser.parse(readJson(request)), request, response);
    }

    /** The legacy text completion: a raw prompt, answered in the {@code text_completion} shape. */
    @PostMapping("/v1/completions")
    public ResponseEntity<String> completeText(HttpServletRequest request, HttpServletResponse response) throws Exception {
        return answer(ChatRequestParser.parseLegacy(readJson(request)), request, response);
    }

    private ResponseEntity<String> answer(ChatCompletionRequest req, HttpServletRequest request,
            HttpServletResponse response) throws Exception {
        boolean legacy = req.rawPrompt() != null;
        Preset preset = req.preset() == null ? null : presets.find(req.preset()).orElseThrow(() ->
                ApiException.invalid("preset", "preset '" + req.preset() + "' does not exist; GET /api/presets lists them"));
        ServedModel model = runtime.served().orElseThrow(() -> NotReady.of(runtime.status()));
        PresetSampling presetSampling = preset == null ? PresetSampling.NONE : preset.sampling();
        int[] prompt = render(model, req, preset);
        int contextLeft = model.contextLength() - prompt.length;
        if (contextLeft < 1) {
            throw new ApiException(400, "invalid_request_error", "messages", "context_length_exceeded", "the prompt has "
                    + prompt.length + " tokens, which leaves no room for a completion within the context size of "
                    + model.contextLength() + " tokens", null);
        }
        SamplingPolicy.Resolved resolved;
        try {
            resolved = policy.resolve(new SamplingChoice(req.temperature(), req.topP(), req.topK(), req.minP(),
                    req.repetitionPenalty(), req.presencePenalty(), req.frequencyPenalty(), req.seed(), req.maxTokens()),
                    presetSampling, model.generationDefaults(), contextLeft);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(null, e.getMessage());
        }
        String id = (legacy ? "cmpl-" : "chatcmpl-") + UUID.randomUUID().toString().replace("-", "");
        GenerationEvents events = new GenerationEvents();
        Choices handle = new Choices(id);
        try {
            for (int i = 0; i < req.n(); i++) {
                // Each choice is its own sequence; a given seed gives choice i the seed + i, so n > 1 differs and repeats.
                SamplingParams s = resolved.sampling();
                SamplingParams sampling = i == 0 ? s : new SamplingParams(s.temperature(), s.topK(), s.topP(), s.minP(),
                        s.repetitionPenalty(), s.presencePenalty(), s.frequencyPenalty(), s.seed() + i);
                GenerationRequest gen = new GenerationRequest(req.n() == 1 ? id : id + "-" + i, prompt, resolved.maxTokens(),
                        sampling, req.stop(), req.logprobs() ? req.topLogprobs() : 0, constraints.forRequest(model, req));
                handle.add(generation.submit(gen, events.listener(i)));
            }
        } catch (RuntimeException e) {
            handle.cancel();
            throw e;
        }
        ChatResponses out = new ChatResponses(id, System.currentTimeMillis() / 1000, model.name(), model.tokenizer(), legacy);
        if (!req.stream()) {
            try {
                answerAsync(request, response, req, events, out, handle);
            } catch (RuntimeException e) {
                handle.cancel(); // nothing will wait for this generation
                throw e;
            }
            return null;
        }
        try {
            stream(req, events, out, response);
            return null;
        } finally {
            // Whatever happened to this request (a write failed, the thread was interrupted), its KV slot goes back.
            handle.cancel();
        }
    }

    /**
     * A non-streamed answer writes nothing until the generation ends, so no failed write can tell
     * that the client left, and Tomcat reports nothing to a synchronous request (nor, it turns out, to
     * an asynchronous one) whose client hangs up. So the request goes asynchronous, which allows
     * non-blocking reads, and a virtual thread waits for the answer while polling the connection
     * every {@link #HANG_UP_POLL_MILLIS} ({@link HangUpDetector}); a hang-up cancels the generation at
     * once, frees its KV slot and is logged in one INFO line. {@link AsyncListener#onError} covers
     * the failures the container does report.
     */
    private void answerAsync(HttpServletRequest request, HttpServletResponse response, ChatCompletionRequest req,
            GenerationEvents events, ChatResponses out, Choices handle) {
        AsyncContext async = request.startAsync(request, response);
        async.setTimeout(0); // the scheduler's qwen.request-timeout bounds the generation
        AtomicBoolean gone = new AtomicBoolean();
        Runnable hungUp = () -> {
            if (gone.compareAndSet(false, true)) {
                log.info("client of request {} disconnected before its answer; generation cancelled", handle.requestId());
            }
            handle.cancel();
        };
        async.addListener(new AsyncListener() {
            @Override
            public void onError(AsyncEvent event) {
                hungUp.run();
            }

            @Override
            public void onComplete(AsyncEvent event) {
                handle.cancel();
            }

            @Override
            public void onTimeout(AsyncEvent event) {
                handle.cancel();
            }

            @Override
            public void onStartAsync(AsyncEvent event) {
            }
        });
        Thread.ofVirtual().name("answer-" + handle.requestId()).start(() -> {
            try {
                HangUpDetector connection = hangUpDetector(request, handle.requestId());
                BooleanSupplier clientGone = () -> {
                    if (!gone.get() && connection != null && connection.hungUp()) hungUp.run();
                    return gone.get();
                };
                ResponseEntity<String> answer;
                try {
                    answer = collect(req, events, out, clientGone);
                } catch (ApiException e) {
                    answer = ApiErrors.entity(e);
                } catch (GenerationException e) {
                    answer = ApiErrors.entity(ApiErrors.from(e));
                } catch (RuntimeException e) {
                    log.error("unexpected error in the API", e);
                    answer = ApiErrors.entity(ApiErrors.internal());
                }
                if (answer != null && !clientGone.getAsBoolean()) write(response, answer);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException e) {
                log.info("client of request {} disconnected before its answer was written", handle.requestId());
            } finally {
                handle.cancel();
                try {
                    async.complete();
                } catch (IllegalStateException alreadyOver) {
                    // The container ended the request after an error; nothing left to complete.
                }
            }
        });
    }

    /** Null when the container refuses non-blocking reads: the answer is then still written, hang-ups are just noticed late. */
    private static HangUpDetector hangUpDetector(HttpServletRequest request, String requestId) {
        try {
            return new HangUpDetector(request.getInputStream());
        } catch (IOException | RuntimeException e) {
            log.warn("request {}: cannot watch the connection for a hang-up ({})", requestId, e.toString());
            return null;
        }
    }

    private static void write(HttpServletResponse response, ResponseEntity<String> answer) throws IOException {
        response.setStatus(answer.getStatusCode().value());
        answer.getHeaders().forEach((name, values) -> values.forEach(v -> response.addHeader(name, v)));
        byte[] body = answer.getBody() == null ? new byte[0] : answer.getBody().getBytes(StandardCharsets.UTF_8);
        response.setContentLength(body.length);
        OutputStream os = response.getOutputStream();
        os.write(body);
        os.flush();
    }

    private JsonNode readJson(HttpServletRequest request) throws IOException {
        String type = request.getContentType();
        MediaType media;
        try {
            media = type == null ? null : MediaType.parseMediaType(type);
        } catch (IllegalArgumentException e) {
            media = null;
        }
        if (media == null || !media.isCompatibleWith(MediaType.APPLICATION_JSON) || media.isWildcardSubtype()) {
            throw new ApiException(415, "invalid_request_error", null, "unsupported_media_type",
                    "Content-Type must be application/json, got " + (type == null ? "none" : "'" + type + "'"), null);
        }
        int limit = properties.maxRequestBytes();
        if (request.getContentLengthLong() > limit) throw tooLarge(request.getContentLengthLong(), limit);
        byte[] body;
        // Not closed here: a non-streamed request watches the same stream for a hang-up (HangUpDetector).
        InputStream in = request.getInputStream();
        body = in.readNBytes(limit + 1);
        if (body.length > limit) throw tooLarge(-1, limit);
        try {
            return ApiErrors.JSON.readTree(body);
        } catch (JacksonException e) {
            throw ApiException.invalid(null, "the request body is not valid JSON: " + JsonProblems.describe(e));
        }
    }

    private static ApiException tooLarge(long length, int limit) {
        return new ApiException(413, "invalid_request_error", null, "request_too_large",
                "the request body" + (length >= 0 ? " has " + length + " bytes, which" : "") + " exceeds the limit of "
                        + limit + " bytes", null);
    }

    private static int[] render(ServedModel model, ChatCompletionRequest req, Preset preset) {
        // A raw prompt is the client's whole text, template and all: its control tokens are meant.
        if (req.rawPrompt() != null) return model.tokenizer().encodeWithControlTokens(req.rawPrompt());
        List<ChatMessage> messages = preset == null ? req.messages() : preset.framing(req.messages());
        if (req.jsonObject()) {
            // Decoding is constrained to an object; the instruction keeps the model's text sensible within it.
            messages = new ArrayList<>(messages);
            ChatMessage first = messages.get(0);
            if (first.role().equals("system")) {
                messages.set(0, new ChatMessage("system", first.content() + "\n\n" + JSON_INSTRUCTION));
            } else {
                messages.add(0, new ChatMessage("system", ChatTemplate.DEFAULT_SYSTEM_PROMPT + "\n\n" + JSON_INSTRUCTION));
            }
        }
        // With tool_choice none the tools stay out of the prompt, so the model has no reason to call one.
        List<Object> tools = req.toolsActive() ? req.tools().stream().map(t -> (Object) t.asGiven()).toList() : List.of();
        try {
            return model.chatTemplate().render(messages, tools, true).ids();
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid("messages", e.getMessage());
        }
    }

    private long waitMillis() {
        return properties.requestTimeout().toMillis() + 30_000;
    }

    /** The whole answer, or null once {@code clientGone} says nobody is left to read it. */
    private ResponseEntity<String> collect(ChatCompletionRequest req, GenerationEvents events, ChatResponses out,
            BooleanSupplier clientGone) throws InterruptedException {
        int n = req.n();
        StringBuilder[] text = new StringBuilder[n];
        ArrayNode[] logprobs = new ArrayNode[n];
        ChatResponses.Choice[] done = new ChatResponses.Choice[n];
        for (int i = 0; i < n; i++) {
            text[i] = new StringBuilder();
            logprobs[i] = req.logprobs() ? ApiErrors.JSON.createArrayNode() : null;
        }
        int finished = 0;
        RequestUsage usage = RequestUsage.NONE;
        long deadline = System.nanoTime() + waitMillis() * 1_000_000;
        while (true) {
            GenerationEvents.Event e = events.next(HANG_UP_POLL_MILLIS);
            if (clientGone.getAsBoolean()) return null;
            switch (e) {
                case null -> {
                    if (System.nanoTime() - deadline > 0) {
                        throw new ApiException(504, "server_error", null, "timeout", "the generation timed out", null);
                    }
                }
                case GenerationEvents.Token t -> {
                    text[t.choice()].append(t.token().text());
                    if (logprobs[t.choice()] != null) logprobs[t.choice()].add(out.logprob(t.token()));
                }
                case GenerationEvents.Failed f -> throw f.error();
                case GenerationEvents.Done d -> {
                    if (d.reason() == FinishReason.TIMEOUT || d.reason() == FinishReason.CANCELLED) throw timedOut();
                    int c = d.choice();
                    text[c].append(d.tailText());
                    ToolCallExtractor.Parsed parsed = req.toolsActive() ? ToolCallExtractor.parse(text[c].toString(),
                            toolNames(req), req.parallelToolCalls(), ChatCompletionsController::callId) : null;
                    done[c] = parsed != null && !parsed.calls().isEmpty()
                            ? new ChatResponses.Choice(parsed.content(), parsed.calls(), "tool_calls", logprobs[c])
                            : new ChatResponses.Choice(text[c].toString(), List.of(), d.reason().wireName(), logprobs[c]);
                    usage = usage.plus(d.usage());
                    if (++finished == n) {
                        ObjectNode body = out.completion(List.of(done), usage);
                        return ResponseEntity.ok().contentType(MediaType.APPLICATION_JSON)
                                .body(ApiErrors.JSON.writeValueAsString(body));
                    }
                }
            }
        }
    }

    private void stream(ChatCompletionRequest req, GenerationEvents events, ChatResponses out,
            HttpServletResponse response) throws InterruptedException {
        response.setStatus(200);
        response.setContentType("text/event-stream");
        response.setCharacterEncoding("UTF-8");
        response.setHeader("Cache-Control", "no-cache");
        response.setHeader("X-Accel-Buffering", "no");
        boolean usageField = req.includeUsage();
        int n = req.n();
        ToolCallExtractor[] calls = new ToolCallExtractor[n];
        int[] callIndex = new int[n];
        for (int i = 0; i < n && req.toolsActive(); i++) {
            calls[i] = new ToolCallExtractor(toolNames(req), req.parallelToolCalls(), ChatCompletionsController::callId);
        }
        int finished = 0;
        RequestUsage usage = RequestUsage.NONE;
        try {
            OutputStream os = response.getOutputStream();
            for (int i = 0; i < n; i++) send(os, out.chunk(i, "assistant", "", null, null, usageField));
            while (true) {
                GenerationEvents.Event e = events.next(waitMillis());
                switch (e) {
                    case null -> {
                        sendError(os, new ApiException(504, "server_error", null, "timeout", "the generation timed out", null));
                        return;
                    }
                    case GenerationEvents.Token t -> {
                        GeneratedToken tok = t.token();
                        int c = t.choice();
                        if (calls[c] != null) {
                            ArrayNode lp = req.logprobs() ? ApiErrors.JSON.createArrayNode().add(out.logprob(tok)) : null;
                            sendPieces(os, out, c, calls[c].accept(tok.text()), lp, callIndex, usageField);
                        } else if (req.logprobs()) {
                            ArrayNode lp = ApiErrors.JSON.createArrayNode().add(out.logprob(tok));
                            send(os, out.chunk(c, null, tok.text(), lp, null, usageField));
                        } else if (!tok.text().isEmpty()) {
                            send(os, out.chunk(c, null, tok.text(), null, null, usageField));
                        }
                    }
                    case GenerationEvents.Failed f -> {
                        sendError(os, ApiErrors.from(f.error()));
                        return;
                    }
                    case GenerationEvents.Done d when d.reason() == FinishReason.TIMEOUT -> {
                        // Not a normal end: an error event, which OpenAI clients raise, instead of a
                        // finish_reason that would pass the cut-off reply off as complete.
                        sendError(os, timedOut());
                        return;
                    }
                    case GenerationEvents.Done d -> {
                        int c = d.choice();
                        if (calls[c] != null) {
                            List<ToolCallExtractor.Piece> last = new ArrayList<>(calls[c].accept(d.tailText()));
                            last.addAll(calls[c].finish());
                            sendPieces(os, out, c, last, null, callIndex, usageField);
                        } else if (!d.tailText().isEmpty()) {
                            send(os, out.chunk(c, null, d.tailText(), null, null, usageField));
                        }
                        String reason = d.reason() == FinishReason.CANCELLED ? "length" : d.reason().wireName();
                        if (calls[c] != null && calls[c].madeCalls()) reason = "tool_calls";
                        send(os, out.chunk(c, null, null, null, reason, usageField));
                        usage = usage.plus(d.usage());
                        if (++finished < n) continue;
                        if (usageField) send(os, out.usageChunk(usage));
                        os.write("data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII));
                        os.flush();
                        return;
                    }
                }
            }
        } catch (IOException gone) {
            // The client went away; the caller's finally cancels the generation and frees its KV slot.
            log.debug("client of a streamed completion disconnected: {}", gone.toString());
        }
    }

    /** Text as content deltas, each call as OpenAI streams one: its header, then its arguments. */
    private static void sendPieces(OutputStream os, ChatResponses out, int choice, List<ToolCallExtractor.Piece> pieces,
            ArrayNode logprobs, int[] callIndex, boolean usageField) throws IOException {
        ArrayNode lp = logprobs;
        for (ToolCallExtractor.Piece p : pieces) {
            switch (p) {
                case ToolCallExtractor.Text t -> send(os, out.chunk(choice, null, t.text(), lp, null, usageField));
                case ToolCallExtractor.Call c -> {
                    send(os, out.toolCallStartChunk(choice, callIndex[choice], c.call(), usageField));
                    send(os, out.toolArgumentsChunk(choice, callIndex[choice], c.call().arguments(), usageField));
                    callIndex[choice]++;
                }
            }
            lp = null; // a token's logprobs go out once, with the first piece it released
        }
        // A token whose text is held back still reports its logprobs.
        if (lp != null) send(os, out.chunk(choice, null, "", lp, null, usageField));
    }

    /** The generations of one request's choices, cancelled together. */
    static final class Choices implements GenerationHandle {
        private final String requestId;
        private final List<GenerationHandle> handles = new java.util.concurrent.CopyOnWriteArrayList<>();

        Choices(String requestId) {
            this.requestId = requestId;
        }

        void add(GenerationHandle h) {
            handles.add(h);
        }

        @Override
        public String requestId() {
            return requestId;
        }

        @Override
        public void cancel() {
            handles.forEach(GenerationHandle::cancel);
        }

        @Override
        public boolean isDone() {
            return handles.stream().allMatch(GenerationHandle::isDone);
        }
    }

    private static java.util.Set<String> toolNames(ChatCompletionRequest req) {
        if (req.toolChoice().mode() == ToolChoice.Mode.NAMED) return java.util.Set.of(req.toolChoice().function());
        return req.tools().stream().map(ToolDefinition::name).collect(java.util.stream.Collectors.toSet());
    }

    private static String callId() {
        return "call_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
    }

    private ApiException timedOut() {
        return new ApiException(504, "server_error", null, "timeout", properties.timeoutMessage(), null);
    }

    private static void send(OutputStream os, ObjectNode chunk) throws IOException {
        if (chunk == null) return; // nothing in this shape (the legacy stream has no role chunk)
        os.write(("data: " + ApiErrors.JSON.writeValueAsString(chunk) + "\n").getBytes(StandardCharsets.UTF_8));
        os.flush();
        // The event's closing blank line goes out as a second write: when the client has hung up, the
        // first write draws a reset and this one fails at once, so the generation is cancelled a whole
        // scheduler step sooner than if the failure waited for the next token.
        os.write('\n');
        os.flush();
    }

    private static void sendError(OutputStream os, ApiException e) throws IOException {
        send(os, ApiErrors.body(e));
    }


}

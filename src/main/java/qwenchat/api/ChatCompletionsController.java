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
import java.security.SecureRandom;
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
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.GenerationConfig;
import qwenchat.presets.Preset;
import qwenchat.presets.PresetSampling;
import qwenchat.presets.PresetStore;
import qwenchat.generation.FinishReason;
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
    private final SecureRandom seeds = new SecureRandom();

    public ChatCompletionsController(ModelRuntime runtime, GenerationService generation, QwenProperties properties,
            PresetStore presets) {
        this.runtime = runtime;
        this.generation = generation;
        this.properties = properties;
        this.presets = presets;
    }

    @PostMapping("/v1/chat/completions")
    public ResponseEntity<String> complete(HttpServletRequest request, HttpServletResponse response) throws Exception {
        ChatCompletionRequest req = ChatRequestParser.parse(readJson(request));
        Preset preset = req.preset() == null ? null : presets.find(req.preset()).orElseThrow(() ->
                ApiException.invalid("preset", "preset '" + req.preset() + "' does not exist; GET /api/presets lists them"));
        ServedModel model = runtime.served().orElseThrow(() -> NotReady.of(runtime.status()));
        PresetSampling presetSampling = preset == null ? PresetSampling.NONE : preset.sampling();
        int[] prompt = render(model, req, preset);
        int maxTokens = req.maxTokens() != null ? req.maxTokens()
                : presetSampling.maxTokens() != null ? Math.min(presetSampling.maxTokens(), model.contextLength() - prompt.length)
                : model.contextLength() - prompt.length;
        if (maxTokens < 1) {
            throw new ApiException(400, "invalid_request_error", "messages", "context_length_exceeded", "the prompt has "
                    + prompt.length + " tokens, which leaves no room for a completion within the context size of "
                    + model.contextLength() + " tokens", null);
        }
        String id = "chatcmpl-" + UUID.randomUUID().toString().replace("-", "");
        GenerationRequest gen = new GenerationRequest(id, prompt, maxTokens, sampling(model.generationDefaults(), presetSampling, req),
                req.stop(), req.logprobs() ? req.topLogprobs() : 0);
        GenerationEvents events = new GenerationEvents();
        GenerationHandle handle = generation.submit(gen, events);
        ChatResponses out = new ChatResponses(id, System.currentTimeMillis() / 1000, model.name(), model.tokenizer());
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
            GenerationEvents events, ChatResponses out, GenerationHandle handle) {
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
        List<ChatMessage> messages = preset == null ? req.messages() : preset.framing(req.messages());
        if (req.jsonObject()) {
            // No constrained decoding yet: the instruction goes into the system turn and the output is checked.
            messages = new ArrayList<>(messages);
            ChatMessage first = messages.get(0);
            if (first.role().equals("system")) {
                messages.set(0, new ChatMessage("system", first.content() + "\n\n" + JSON_INSTRUCTION));
            } else {
                messages.add(0, new ChatMessage("system", ChatTemplate.DEFAULT_SYSTEM_PROMPT + "\n\n" + JSON_INSTRUCTION));
            }
        }
        try {
            return model.chatTemplate().render(messages, true).ids();
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid("messages", e.getMessage());
        }
    }

    /** The request's explicit values over the preset's defaults over the model's generation_config. */
    private SamplingParams sampling(GenerationConfig defaults, PresetSampling p, ChatCompletionRequest r) {
        SamplingParams d = SamplingParams.defaults(defaults, 0);
        double temperature = first(r.temperature(), p.temperature(), d.temperature());
        double topP = first(r.topP(), p.topP(), d.topP());
        int topK = first(r.topK(), p.topK(), d.topK());
        double repetition = first(r.repetitionPenalty(), p.repetitionPenalty(), d.repetitionPenalty());
        long seed = r.seed() != null ? r.seed() : seeds.nextLong();
        return new SamplingParams(temperature, topK, topP, 0, repetition, r.presencePenalty(), r.frequencyPenalty(), seed);
    }

    private static <T> T first(T request, T preset, T model) {
        return request != null ? request : preset != null ? preset : model;
    }

    private long waitMillis() {
        return properties.requestTimeout().toMillis() + 30_000;
    }

    /** The whole answer, or null once {@code clientGone} says nobody is left to read it. */
    private ResponseEntity<String> collect(ChatCompletionRequest req, GenerationEvents events, ChatResponses out,
            BooleanSupplier clientGone) throws InterruptedException {
        StringBuilder text = new StringBuilder();
        ArrayNode logprobs = req.logprobs() ? ApiErrors.JSON.createArrayNode() : null;
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
                    text.append(t.token().text());
                    if (logprobs != null) logprobs.add(out.logprob(t.token()));
                }
                case GenerationEvents.Failed f -> throw f.error();
                case GenerationEvents.Done d -> {
                    if (d.reason() == FinishReason.TIMEOUT || d.reason() == FinishReason.CANCELLED) throw timedOut();
                    text.append(d.tailText());
                    if (req.jsonObject()) requireJsonObject(text.toString());
                    ObjectNode body = out.completion(text.toString(), d.reason().wireName(), logprobs, d.usage());
                    return ResponseEntity.ok().contentType(MediaType.APPLICATION_JSON)
                            .body(ApiErrors.JSON.writeValueAsString(body));
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
        StringBuilder text = req.jsonObject() ? new StringBuilder() : null;
        try {
            OutputStream os = response.getOutputStream();
            send(os, out.chunk("assistant", "", null, null, usageField));
            while (true) {
                GenerationEvents.Event e = events.next(waitMillis());
                switch (e) {
                    case null -> {
                        sendError(os, new ApiException(504, "server_error", null, "timeout", "the generation timed out", null));
                        return;
                    }
                    case GenerationEvents.Token t -> {
                        GeneratedToken tok = t.token();
                        if (text != null) text.append(tok.text());
                        if (req.logprobs()) {
                            ArrayNode lp = ApiErrors.JSON.createArrayNode().add(out.logprob(tok));
                            send(os, out.chunk(null, tok.text(), lp, null, usageField));
                        } else if (!tok.text().isEmpty()) {
                            send(os, out.chunk(null, tok.text(), null, null, usageField));
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
                        if (!d.tailText().isEmpty()) send(os, out.chunk(null, d.tailText(), null, null, usageField));
                        if (text != null) text.append(d.tailText());
                        String reason = d.reason() == FinishReason.CANCELLED ? "length" : d.reason().wireName();
                        send(os, out.chunk(null, null, null, reason, usageField));
                        if (text != null) {
                            try {
                                requireJsonObject(text.toString());
                            } catch (ApiException invalid) {
                                sendError(os, invalid);
                            }
                        }
                        if (usageField) send(os, out.usageChunk(d.usage()));
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

    private ApiException timedOut() {
        return new ApiException(504, "server_error", null, "timeout", properties.timeoutMessage(), null);
    }

    private static void send(OutputStream os, ObjectNode chunk) throws IOException {
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

    private static void requireJsonObject(String text) {
        JsonNode node;
        try {
            node = ApiErrors.JSON.readTree(text);
        } catch (JacksonException e) {
            node = null;
        }
        if (node == null || !node.isObject()) {
            throw new ApiException(500, "server_error", "response_format", "invalid_json_output",
                    "the model's output is not a valid JSON object (response_format json_object is enforced by "
                            + "instruction only; constrained decoding is not implemented yet)", null);
        }
    }

}

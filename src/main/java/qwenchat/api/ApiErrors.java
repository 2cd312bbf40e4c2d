package qwenchat.api;

import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import qwenchat.serving.GenerationException;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Maps every failure of the {@code /v1} controllers to OpenAI's error shape. Server errors are
 * logged with their stack trace and shown to clients as a plain sentence.
 */
@RestControllerAdvice(assignableTypes = {ChatCompletionsController.class, ModelsController.class})
public class ApiErrors {

    private static final Logger log = LoggerFactory.getLogger(ApiErrors.class);
    static final JsonMapper JSON = JsonMapper.builder().build();

    @ExceptionHandler(ApiException.class)
    ResponseEntity<String> api(ApiException e) {
        return entity(e);
    }

    @ExceptionHandler(GenerationException.class)
    ResponseEntity<String> generation(GenerationException e) {
        return entity(from(e));
    }

    @ExceptionHandler(Exception.class)
    ResponseEntity<String> unexpected(Exception e) {
        log.error("unexpected error in the API", e);
        return entity(internal());
    }

    static ApiException internal() {
        return new ApiException(500, "server_error", null, "internal_error", "the server failed to process the request", null);
    }

    static ApiException from(GenerationException e) {
        return switch (e.code()) {
            case MODEL_NOT_READY -> new ApiException(503, "service_unavailable", null, "model_not_ready", e.getMessage(), 5);
            case BUSY -> new ApiException(429, "rate_limit_error", null, "server_busy", e.getMessage(),
                    e.retryAfterSeconds() == null ? 1 : e.retryAfterSeconds());
            case CONTEXT_OVERFLOW -> new ApiException(400, "invalid_request_error", "messages", "context_length_exceeded",
                    e.getMessage(), null);
            case INVALID_REQUEST -> new ApiException(400, "invalid_request_error", null, "invalid_value", e.getMessage(), null);
            case ENGINE_FAILURE -> {
                log.error("generation failed", e);
                yield new ApiException(500, "server_error", null, "engine_failure",
                        "the model failed while generating; see the server log", null);
            }
        };
    }

    static ObjectNode body(ApiException e) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode err = root.putObject("error");
        err.put("message", e.getMessage());
        err.put("type", e.type());
        err.put("param", e.param());
        err.put("code", e.code());
        return root;
    }

    static ResponseEntity<String> entity(ApiException e) {
        ResponseEntity.BodyBuilder b = ResponseEntity.status(e.status()).contentType(MediaType.APPLICATION_JSON);
        if (e.retryAfterSeconds() != null) b.header(HttpHeaders.RETRY_AFTER, e.retryAfterSeconds().toString());
        return b.body(JSON.writeValueAsString(body(e)));
    }

    /** Writes the error directly, for code that runs outside the MVC exception handling (the security filters). */
    public static void write(HttpServletResponse response, ApiException e) throws IOException {
        response.setStatus(e.status());
        response.setContentType(MediaType.APPLICATION_JSON_VALUE);
        if (e.retryAfterSeconds() != null) response.setHeader(HttpHeaders.RETRY_AFTER, e.retryAfterSeconds().toString());
        response.getOutputStream().write(JSON.writeValueAsString(body(e)).getBytes(StandardCharsets.UTF_8));
    }
}

package qwenchat.lab;

import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.stereotype.Controller;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.ResponseBody;
import qwenchat.serving.GenerationException;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.ServedModel;

/**
 * {@code /lab}: like the admin dashboard, the page is a shell with a sign-in form and no data;
 * everything it shows comes from {@code /lab/api/**}, which {@code qwenchat.security} guards with
 * the admin token. Spring Security's headers keep every answer, downloads included, out of caches.
 */
@Controller
class LabController {

    private final LabRunner runner;
    private final LabHistory history;
    private final ModelRuntime runtime;

    LabController(LabRunner runner, LabHistory history, ModelRuntime runtime) {
        this.runner = runner;
        this.history = history;
        this.runtime = runtime;
    }

    @GetMapping({"/lab", "/lab/"})
    String page() {
        return "lab";
    }

    /** What the form needs: the layer count for the range, and whether the weights are the demo's. */
    @GetMapping(path = "/lab/api/model", produces = MediaType.APPLICATION_JSON_VALUE)
    @ResponseBody
    Map<String, Object> model() {
        Map<String, Object> m = new LinkedHashMap<>();
        ServedModel s = runtime.served().orElse(null);
        m.put("ready", s != null);
        if (s != null) {
            m.put("name", s.name());
            m.put("demoWeights", s.demo());
            m.put("layers", s.config().numHiddenLayers());
            m.put("heads", s.config().numAttentionHeads());
        }
        m.put("maxTokens", LabRequest.MAX_TOKENS);
        return m;
    }

    @PostMapping(path = "/lab/api/runs", consumes = MediaType.APPLICATION_JSON_VALUE,
            produces = MediaType.APPLICATION_JSON_VALUE)
    @ResponseBody
    Map<String, Object> run(@RequestBody LabRequest request) throws InterruptedException {
        return runner.run(request).toJson();
    }

    @GetMapping(path = "/lab/api/runs/{id}/json", produces = MediaType.APPLICATION_JSON_VALUE)
    ResponseEntity<Map<String, Object>> json(@PathVariable String id) {
        LabResult r = find(id);
        return ResponseEntity.ok().headers(download("bias-lab-" + id + ".json")).body(r.toJson());
    }

    @GetMapping(path = "/lab/api/runs/{id}/csv", produces = "text/csv")
    ResponseEntity<String> csv(@PathVariable String id) {
        LabResult r = find(id);
        return ResponseEntity.ok().headers(download("bias-lab-" + id + ".csv")).contentType(new MediaType("text", "csv"))
                .body(r.toCsv());
    }

    private LabResult find(String id) {
        return history.get(id).orElseThrow(() -> new LabNotFound("no lab run '" + id
                + "' is kept (the server keeps the last few runs, and forgets them on restart)"));
    }

    private static HttpHeaders download(String filename) {
        HttpHeaders h = new HttpHeaders();
        h.setContentDisposition(org.springframework.http.ContentDisposition.attachment().filename(filename).build());
        return h;
    }

    static final class LabNotFound extends RuntimeException {
        LabNotFound(String message) {
            super(message);
        }
    }

    @ExceptionHandler(LabNotFound.class)
    ResponseEntity<Map<String, Object>> notFound(LabNotFound e) {
        return error(HttpStatus.NOT_FOUND, e.getMessage());
    }

    @ExceptionHandler(IllegalArgumentException.class)
    ResponseEntity<Map<String, Object>> invalid(IllegalArgumentException e) {
        return error(HttpStatus.BAD_REQUEST, e.getMessage());
    }

    @ExceptionHandler(org.springframework.http.converter.HttpMessageNotReadableException.class)
    ResponseEntity<Map<String, Object>> unreadable(Exception e) {
        Throwable root = e;
        while (root.getCause() != null) root = root.getCause();
        String message = root instanceof IllegalArgumentException ? root.getMessage()
                : "the body must be JSON with prompt, projections, fromLayer, toLayer and maxTokens";
        return error(HttpStatus.BAD_REQUEST, message);
    }

    @ExceptionHandler(GenerationException.class)
    ResponseEntity<Map<String, Object>> generation(GenerationException e) {
        HttpStatus status = switch (e.code()) {
            case MODEL_NOT_READY, BUSY -> HttpStatus.SERVICE_UNAVAILABLE;
            case CONTEXT_OVERFLOW, INVALID_REQUEST -> HttpStatus.BAD_REQUEST;
            default -> HttpStatus.INTERNAL_SERVER_ERROR;
        };
        return error(status, e.getMessage());
    }

    private static ResponseEntity<Map<String, Object>> error(HttpStatus status, String message) {
        return ResponseEntity.status(status).contentType(MediaType.APPLICATION_JSON)
                .body(Map.of("error", Map.of("message", message == null ? status.getReasonPhrase() : message)));
    }
}

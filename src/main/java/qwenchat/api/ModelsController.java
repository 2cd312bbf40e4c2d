package qwenchat.api;

import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import jakarta.servlet.http.HttpServletRequest;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.NotReady;
import qwenchat.serving.ServedModel;
import tools.jackson.databind.node.ObjectNode;

/** {@code GET /v1/models}: the one model this server runs; any other {@code /v1} URL is an OpenAI-shaped 404. */
@RestController
public class ModelsController {

    private final ModelRuntime runtime;
    private final long started = System.currentTimeMillis() / 1000;

    public ModelsController(ModelRuntime runtime) {
        this.runtime = runtime;
    }

    @GetMapping("/v1/models")
    public ResponseEntity<String> models() {
        ServedModel m = runtime.served().orElseThrow(() -> NotReady.of(runtime.status()));
        ObjectNode root = ApiErrors.JSON.createObjectNode();
        root.put("object", "list");
        ObjectNode model = root.putArray("data").addObject();
        model.put("id", m.name());
        model.put("object", "model");
        model.put("created", started);
        model.put("owned_by", m.demo() ? "qwen-chat demo" : "qwen-chat");
        model.put("context_length", m.contextLength());
        return ResponseEntity.ok().contentType(MediaType.APPLICATION_JSON).body(ApiErrors.JSON.writeValueAsString(root));
    }

    /** Anything under /v1 that no other mapping takes, wrong methods included, as OpenAI answers it. */
    @RequestMapping("/v1/**")
    public ResponseEntity<String> unknown(HttpServletRequest request) {
        throw new ApiException(404, "invalid_request_error", null, "unknown_url",
                "Unknown request URL: " + request.getMethod() + " " + request.getRequestURI(), null);
    }
}

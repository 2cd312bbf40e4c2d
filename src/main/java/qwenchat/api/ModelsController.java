package qwenchat.api;

import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.NotReady;
import qwenchat.serving.ServedModel;
import tools.jackson.databind.node.ObjectNode;

/** {@code GET /v1/models}: the one model this server runs. */
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
}

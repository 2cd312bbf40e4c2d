package qwenchat.presets;

import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import qwenchat.clienttext.JsonProblems;
import qwenchat.clienttext.PublicText;
import tools.jackson.core.JacksonException;

/** Maps preset errors to statuses with a JSON body {@code {"error": {"field", "message"}}}, never a stack trace. */
@RestControllerAdvice(assignableTypes = PresetController.class)
public class PresetErrorHandler {

    private static final Logger log = LoggerFactory.getLogger(PresetErrorHandler.class);

    @ExceptionHandler(PresetValidationException.class)
    ResponseEntity<Map<String, Object>> invalid(PresetValidationException e) {
        return body(HttpStatus.BAD_REQUEST, e.field(), e.getMessage());
    }

    @ExceptionHandler(HttpMessageNotReadableException.class)
    ResponseEntity<Map<String, Object>> unreadable(HttpMessageNotReadableException e) {
        // Jackson's own message names our classes; the client gets the field and what it should be.
        log.debug("unreadable preset request: {}", e.getMostSpecificCause().toString());
        if (e.getMostSpecificCause() instanceof JacksonException j) {
            String field = JsonProblems.path(j);
            return body(HttpStatus.BAD_REQUEST, field.isEmpty() ? null : field,
                    "request body is not a valid preset JSON: " + JsonProblems.describe(j));
        }
        return body(HttpStatus.BAD_REQUEST, null, "request body is missing or is not a valid preset JSON");
    }

    @ExceptionHandler(PresetNotFoundException.class)
    ResponseEntity<Map<String, Object>> notFound(PresetNotFoundException e) {
        return body(HttpStatus.NOT_FOUND, "id", e.getMessage());
    }

    @ExceptionHandler(PresetConflictException.class)
    ResponseEntity<Map<String, Object>> conflict(PresetConflictException e) {
        return body(HttpStatus.CONFLICT, "id", e.getMessage());
    }

    @ExceptionHandler(PresetStorageException.class)
    ResponseEntity<Map<String, Object>> storage(PresetStorageException e) {
        log.error("preset storage failed", e);
        return body(HttpStatus.INTERNAL_SERVER_ERROR, null, PublicText.of(e.getMessage()));
    }

    private static ResponseEntity<Map<String, Object>> body(HttpStatus status, String field, String message) {
        Map<String, Object> error = new LinkedHashMap<>();
        if (field != null) error.put("field", field);
        error.put("message", message);
        return ResponseEntity.status(status).body(Map.of("error", error));
    }
}

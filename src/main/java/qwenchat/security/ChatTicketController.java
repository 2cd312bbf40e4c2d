package qwenchat.security;

import jakarta.servlet.http.HttpServletResponse;
import java.util.Map;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code POST /api/chat/ticket}: trades an API key for a one-time ticket that opens the chat
 * socket ({@code /ws/chat?ticket=}), since a browser cannot send headers with a WebSocket.
 */
@RestController
class ChatTicketController {

    private final StreamTickets tickets;

    ChatTicketController(StreamTickets tickets) {
        this.tickets = tickets;
    }

    @PostMapping(path = "/api/chat/ticket", produces = MediaType.APPLICATION_JSON_VALUE)
    Map<String, Object> ticket(HttpServletResponse response) {
        response.setHeader("Cache-Control", "no-store");
        return Map.of("ticket", tickets.issue(StreamTickets.Purpose.CHAT_SOCKET),
                "expiresInSeconds", StreamTickets.TTL_MILLIS / 1000);
    }

    /** Any API key holder can buy tickets: past the limit they wait, the server does not fail. */
    @ExceptionHandler(StreamTickets.Exhausted.class)
    ResponseEntity<Map<String, Object>> exhausted(StreamTickets.Exhausted e) {
        return ResponseEntity.status(429).header(HttpHeaders.RETRY_AFTER, "5")
                .body(Map.of("error", Map.of("message", e.getMessage())));
    }
}

package qwenchat.security;

import jakarta.servlet.http.HttpServletResponse;
import java.util.Map;
import org.springframework.http.MediaType;
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
}

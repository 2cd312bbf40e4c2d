package qwenchat.admin;

import java.util.Map;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Controller;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.ResponseBody;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;
import qwenchat.security.StreamTickets;

/**
 * {@code /admin}: the page is only a shell with a login form (it holds no data); everything it shows
 * comes from {@code /admin/api/**}, which {@code qwenchat.security} guards with the admin token.
 * Spring Security's headers keep every answer out of caches ({@code Cache-Control: no-store}).
 */
@Controller
class AdminController {

    private final Overview overview;
    private final SampleHistory history;
    private final StreamTickets tickets;
    private final AdminEvents events;

    AdminController(Overview overview, SampleHistory history, StreamTickets tickets, AdminEvents events) {
        this.overview = overview;
        this.history = history;
        this.tickets = tickets;
        this.events = events;
    }

    @GetMapping({"/admin", "/admin/"})
    String page() {
        return "admin";
    }

    @GetMapping(path = "/admin/api/overview", produces = MediaType.APPLICATION_JSON_VALUE)
    @ResponseBody
    Map<String, Object> overview() {
        return overview.build();
    }

    @GetMapping(path = "/admin/api/history", produces = MediaType.APPLICATION_JSON_VALUE)
    @ResponseBody
    Map<String, Object> history() {
        return Map.of("intervalSeconds", 1, "samples", history.snapshot());
    }

    /** A one-time ticket for {@code /admin/api/events}: EventSource cannot send the bearer header. */
    @PostMapping(path = "/admin/api/ticket", produces = MediaType.APPLICATION_JSON_VALUE)
    @ResponseBody
    Map<String, Object> ticket() {
        return Map.of("ticket", tickets.issue(StreamTickets.Purpose.ADMIN_EVENTS), "expiresInSeconds", StreamTickets.TTL_MILLIS / 1000);
    }

    @GetMapping(path = "/admin/api/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    SseEmitter events() {
        SseEmitter e = events.open();
        try {
            e.send(SseEmitter.event().name("tick").data(Map.of("overview", overview.build())));
        } catch (java.io.IOException ex) {
            e.completeWithError(ex);
        }
        return e;
    }
}

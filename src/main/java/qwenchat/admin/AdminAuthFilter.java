package qwenchat.admin;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Guards {@code /admin/api/**}: the bearer admin token, or for the event stream alone a one-time
 * ticket ({@code ?ticket=}) obtained with that token. Anything else is a 401 with a JSON reason.
 */
final class AdminAuthFilter extends OncePerRequestFilter {

    static final String EVENTS_PATH = "/admin/api/events";

    private final AdminToken token;
    private final StreamTickets tickets;

    AdminAuthFilter(AdminToken token, StreamTickets tickets) {
        this.token = token;
        this.tickets = tickets;
    }

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        return !request.getRequestURI().startsWith("/admin/api/");
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        if (token.authorizes(request)
                || (request.getRequestURI().equals(EVENTS_PATH) && tickets.redeem(request.getParameter("ticket")))) {
            chain.doFilter(request, response);
            return;
        }
        unauthorized(response, AdminToken.bearer(request) == null
                ? "missing admin token: send it as 'Authorization: Bearer <token>'"
                : "incorrect admin token");
    }

    static void unauthorized(HttpServletResponse response, String message) throws IOException {
        response.setStatus(401);
        response.setHeader("WWW-Authenticate", "Bearer realm=\"qwen-chat admin\"");
        response.setHeader("Cache-Control", "no-store");
        response.setContentType("application/json");
        response.setCharacterEncoding("UTF-8");
        response.getOutputStream().write(("{\"error\":{\"message\":\"" + message + "\"}}").getBytes(StandardCharsets.UTF_8));
    }
}

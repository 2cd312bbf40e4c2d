package qwenchat.security;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.security.authentication.AuthenticationManager;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.AuthenticationException;
import org.springframework.security.core.context.SecurityContext;
import org.springframework.security.core.context.SecurityContextHolder;
import org.springframework.security.core.context.SecurityContextHolderStrategy;
import org.springframework.security.web.authentication.AuthenticationConverter;
import org.springframework.security.web.context.RequestAttributeSecurityContextRepository;
import org.springframework.security.web.context.SecurityContextRepository;
import org.springframework.security.web.util.matcher.RequestMatcher;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Authenticates the credential a request presents, if any, and always lets it through: whether
 * the request needed one is decided afterwards by the authorization rules, so an OpenAI client
 * sending a dummy key to an open API is not refused. A credential that fails is remembered only
 * so that the 401 can say "incorrect" instead of "missing".
 */
final class CredentialFilter extends OncePerRequestFilter implements AuthenticationConverter {

    private static final Logger log = LoggerFactory.getLogger(CredentialFilter.class);
    private static final String PRESENTED = CredentialFilter.class.getName() + ".presented";

    private final AuthenticationManager authenticationManager;
    private final Map<RequestMatcher, StreamTickets.Purpose> ticketRoutes;
    private final SecurityContextHolderStrategy contexts = SecurityContextHolder.getContextHolderStrategy();
    // Kept per request, so an async dispatch (SSE, streamed completions) stays authenticated; never in a session.
    private final SecurityContextRepository repository = new RequestAttributeSecurityContextRepository();

    /** @param ticketRoutes the connections that accept {@code ?ticket=}, each with the ticket purpose it takes */
    CredentialFilter(AuthenticationManager authenticationManager, Map<RequestMatcher, StreamTickets.Purpose> ticketRoutes) {
        this.authenticationManager = authenticationManager;
        this.ticketRoutes = ticketRoutes;
    }

    /** Whether the request presented a credential of any kind, valid or not. */
    static boolean presented(HttpServletRequest request) {
        return request.getAttribute(PRESENTED) != null;
    }

    @Override
    public PresentedCredential convert(HttpServletRequest request) {
        String header = request.getHeader("Authorization");
        if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return PresentedCredential.bearer(header.substring(7).trim());
        }
        for (Map.Entry<RequestMatcher, StreamTickets.Purpose> route : ticketRoutes.entrySet()) {
            if (route.getKey().matches(request)) {
                String ticket = request.getParameter("ticket");
                return ticket == null ? null : PresentedCredential.ticket(ticket, route.getValue());
            }
        }
        return null;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        PresentedCredential credential = convert(request);
        if (credential != null) {
            request.setAttribute(PRESENTED, Boolean.TRUE);
            try {
                Authentication result = authenticationManager.authenticate(credential);
                SecurityContext context = contexts.createEmptyContext();
                context.setAuthentication(result);
                contexts.setContext(context);
                repository.saveContext(context, request, response);
            } catch (AuthenticationException e) {
                contexts.clearContext();
                log.debug("credential refused: {}", e.getMessage());
            }
        }
        chain.doFilter(request, response);
    }
}

package qwenchat.security;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.security.access.AccessDeniedException;
import org.springframework.security.core.AuthenticationException;
import org.springframework.security.web.AuthenticationEntryPoint;
import org.springframework.security.web.access.AccessDeniedHandler;
import org.springframework.security.web.util.matcher.RequestMatcher;

/**
 * Answers every refusal of the authorization rules with the {@link Challenge} of the area the
 * request is in (first matching area wins). A request authenticated with the wrong kind of
 * credential (an API key on the admin API) is answered like a wrong credential, with a 401: the
 * area's credential is what is missing.
 */
final class Challenges implements AuthenticationEntryPoint, AccessDeniedHandler {

    private final Map<RequestMatcher, Challenge> areas;
    private final Challenge fallback;

    Challenges(LinkedHashMap<RequestMatcher, Challenge> areas, Challenge fallback) {
        this.areas = new LinkedHashMap<>(areas);
        this.fallback = fallback;
    }

    @Override
    public void commence(HttpServletRequest request, HttpServletResponse response, AuthenticationException e)
            throws IOException {
        challengeFor(request).write(response, CredentialFilter.presented(request));
    }

    @Override
    public void handle(HttpServletRequest request, HttpServletResponse response, AccessDeniedException e)
            throws IOException {
        challengeFor(request).write(response, true);
    }

    private Challenge challengeFor(HttpServletRequest request) {
        for (Map.Entry<RequestMatcher, Challenge> area : areas.entrySet()) {
            if (area.getKey().matches(request)) return area.getValue();
        }
        return fallback;
    }
}

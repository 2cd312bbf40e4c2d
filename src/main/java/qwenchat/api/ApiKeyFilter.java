package qwenchat.api;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Bearer-key check for {@code /v1/**} when keys are configured ({@code qwen.api-keys}). Keys are
 * compared as SHA-256 digests with a constant-time comparison, against every key, so neither the
 * length nor the position of a near-miss leaks through timing.
 */
final class ApiKeyFilter extends OncePerRequestFilter {

    private final List<byte[]> keyDigests;

    ApiKeyFilter(List<String> keys) {
        this.keyDigests = keys.stream().map(ApiKeyFilter::sha256).toList();
    }

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        return keyDigests.isEmpty() || !request.getRequestURI().startsWith("/v1/");
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        String header = request.getHeader("Authorization");
        String presented = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).trim() : null;
        if (presented == null || !matches(presented)) {
            ApiErrors.write(response, new ApiException(401, "invalid_request_error", null, "invalid_api_key",
                    presented == null ? "missing API key: send it as 'Authorization: Bearer <key>'" : "incorrect API key provided",
                    null));
            return;
        }
        chain.doFilter(request, response);
    }

    private boolean matches(String presented) {
        byte[] digest = sha256(presented);
        boolean ok = false;
        for (byte[] k : keyDigests) ok |= MessageDigest.isEqual(k, digest);
        return ok;
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}

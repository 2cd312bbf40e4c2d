package qwenchat.security;

import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.springframework.http.MediaType;
import qwenchat.api.ApiErrors;
import qwenchat.api.ApiException;
import tools.jackson.databind.json.JsonMapper;

/**
 * How one area answers a request that lacks its credential, in the body shape that area's
 * clients already parse: OpenAI's for {@code /v1}, {@code {"error":{"message"}}} elsewhere.
 */
interface Challenge {

    JsonMapper JSON = JsonMapper.builder().build();

    /** @param presented whether the request sent a credential (which was then wrong for this area) */
    void write(HttpServletResponse response, boolean presented) throws IOException;

    /** The admin API and preset changes. */
    static Challenge adminToken() {
        return (response, presented) -> bearer(response, 401, "qwen-chat admin", presented
                ? "incorrect admin token"
                : "missing admin token: send it as 'Authorization: Bearer <token>'");
    }

    /** The chat page's socket, ticket and preset reads, when the chat is protected. */
    static Challenge chatKey() {
        return (response, presented) -> bearer(response, 401, "qwen-chat", presented
                ? "incorrect API key or ticket"
                : "missing API key: send one of this server's API keys as 'Authorization: Bearer <key>'");
    }

    /** {@code /v1/**} when API keys are configured. */
    static Challenge openAiKey() {
        return (response, presented) -> {
            response.setHeader("WWW-Authenticate", "Bearer realm=\"qwen-chat api\"");
            ApiErrors.write(response, new ApiException(401, "invalid_request_error", null, "invalid_api_key",
                    presented ? "incorrect API key provided" : "missing API key: send it as 'Authorization: Bearer <key>'",
                    null));
        };
    }

    /** Everything that is not served: denied like a path that does not exist. */
    static Challenge notFound() {
        return (response, presented) -> json(response, 404, "no such resource");
    }

    private static void bearer(HttpServletResponse response, int status, String realm, String message) throws IOException {
        response.setHeader("WWW-Authenticate", "Bearer realm=\"" + realm + "\"");
        json(response, status, message);
    }

    static void json(HttpServletResponse response, int status, String message) throws IOException {
        response.setStatus(status);
        response.setHeader("Cache-Control", "no-store");
        response.setContentType(MediaType.APPLICATION_JSON_VALUE);
        response.getOutputStream().write(
                JSON.writeValueAsString(Map.of("error", Map.of("message", message))).getBytes(StandardCharsets.UTF_8));
    }
}

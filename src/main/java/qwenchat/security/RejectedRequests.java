package qwenchat.security;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.security.web.firewall.RequestRejectedException;
import org.springframework.security.web.firewall.RequestRejectedHandler;

/**
 * Answers a request the firewall refused (an encoded or {@code ;}-laden path, {@code //},
 * {@code .} or {@code ..} segments...) with 400 and the firewall's reason. Left alone, the
 * rejection would surface as a 500.
 */
final class RejectedRequests implements RequestRejectedHandler {

    private static final Logger log = LoggerFactory.getLogger(RejectedRequests.class);

    @Override
    public void handle(HttpServletRequest request, HttpServletResponse response, RequestRejectedException e)
            throws IOException {
        log.debug("request refused by the firewall: {}", e.getMessage());
        Challenge.json(response, 400, "the request URL was refused: only plain, normalised paths are served ("
                + e.getMessage() + ")");
    }
}

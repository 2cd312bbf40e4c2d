package qwenchat.hub;

import java.io.IOException;
import java.time.Duration;

/**
 * No bytes of a response body arrived within {@code qwen.hub.read-timeout}: the connection was
 * abandoned. An IOException so the downloader treats it like a dropped connection and resumes.
 */
final class TransferStalledException extends IOException {

    private final Duration timeout;
    private final long received;

    TransferStalledException(Duration timeout, long received) {
        super("no data for " + HubClient.describe(timeout) + " after " + received
                + " bytes of the response (qwen.hub.read-timeout, env QWEN_HUB_READ_TIMEOUT)");
        this.timeout = timeout;
        this.received = received;
    }

    Duration timeout() {
        return timeout;
    }

    /** Bytes of this response read before it stalled. */
    long received() {
        return received;
    }
}

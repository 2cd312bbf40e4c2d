package qwenchat.web;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Limits of the chat WebSocket ({@code qwen.web.*}).
 *
 * @param maxMessageBytes largest client frame; a whole conversation travels in one frame, so this
 *     bounds conversation size long before the tokenizer runs
 * @param sendBufferBytes frames queued for one slow client before its socket is closed
 * @param sendTimeLimit how long one send may stall before the socket is closed
 * @param allowedOrigins origins allowed to open the socket besides the page's own; empty means same origin only
 * @param defaultMaxTokens new tokens per reply when neither the user nor the preset sets a limit
 * @param maxMessages messages per conversation
 * @param readIdleTimeout a socket from which nothing at all arrives for this long is closed; this is
 *     what ends a frame whose header promised a payload that never comes (nothing can arrive in the
 *     middle of a frame, not even a pong)
 * @param pingInterval how often the server pings each socket, so that a healthy but quiet client
 *     (a browser answers pings by itself) is never idle for {@code readIdleTimeout}; must be shorter
 */
@Validated
@ConfigurationProperties("qwen.web")
public record WebChatProperties(
        @Min(1024) @Max(64 * 1024 * 1024) @DefaultValue("262144") int maxMessageBytes,
        @Min(4096) @DefaultValue("1048576") int sendBufferBytes,
        @NotNull @DefaultValue("10s") Duration sendTimeLimit,
        @NotNull @DefaultValue("") List<String> allowedOrigins,
        @Min(1) @DefaultValue("1024") int defaultMaxTokens,
        @Min(1) @DefaultValue("2000") int maxMessages,
        @NotNull @DefaultValue("60s") Duration readIdleTimeout,
        @NotNull @DefaultValue("20s") Duration pingInterval) {

    public WebChatProperties {
        if (readIdleTimeout != null && pingInterval != null
                && (pingInterval.isNegative() || pingInterval.isZero() || pingInterval.compareTo(readIdleTimeout) >= 0)) {
            throw new IllegalArgumentException("qwen.web.ping-interval (" + pingInterval + ") must be positive and shorter than "
                    + "qwen.web.read-idle-timeout (" + readIdleTimeout + "), or quiet clients would be closed as idle");
        }
        allowedOrigins = allowedOrigins == null ? List.of() : allowedOrigins.stream().filter(o -> !o.isBlank()).toList();
    }
}

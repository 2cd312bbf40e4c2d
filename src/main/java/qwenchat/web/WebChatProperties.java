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
 */
@Validated
@ConfigurationProperties("qwen.web")
public record WebChatProperties(
        @Min(1024) @Max(64 * 1024 * 1024) @DefaultValue("262144") int maxMessageBytes,
        @Min(4096) @DefaultValue("1048576") int sendBufferBytes,
        @NotNull @DefaultValue("10s") Duration sendTimeLimit,
        @NotNull @DefaultValue("") List<String> allowedOrigins,
        @Min(1) @DefaultValue("1024") int defaultMaxTokens,
        @Min(1) @DefaultValue("2000") int maxMessages) {

    public WebChatProperties {
        allowedOrigins = allowedOrigins == null ? List.of() : allowedOrigins.stream().filter(o -> !o.isBlank()).toList();
    }
}

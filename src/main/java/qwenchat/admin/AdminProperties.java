package qwenchat.admin;

import java.time.Duration;
import jakarta.validation.constraints.NotNull;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * The {@code qwen.admin.*} settings.
 *
 * @param token the admin credential (env {@code QWEN_ADMIN_TOKEN}); unset means one is generated at
 *     startup and printed once in the log
 * @param stallTimeout how long an engine step may run, or waiting work go unserved, before the decode
 *     loop counts as stalled and liveness turns DOWN
 * @param historySamples how many one-second dashboard samples the server keeps (600 = ten minutes)
 */
@Validated
@ConfigurationProperties("qwen.admin")
public record AdminProperties(
        String token,
        @NotNull @DefaultValue("60s") Duration stallTimeout,
        @DefaultValue("600") int historySamples) {

    public AdminProperties {
        if (token != null && token.isBlank()) token = null;
        if (stallTimeout != null && (stallTimeout.isNegative() || stallTimeout.isZero())) {
            throw new IllegalArgumentException("qwen.admin.stall-timeout must be positive, got " + stallTimeout);
        }
        if (historySamples < 10 || historySamples > 86_400) {
            throw new IllegalArgumentException("qwen.admin.history-samples must be 10..86400, got " + historySamples);
        }
    }
}

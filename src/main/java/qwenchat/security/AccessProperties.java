package qwenchat.security;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * The {@code qwen.security.*} settings.
 *
 * @param protectChat whether the chat page's socket ({@code /ws/chat}) and the preset list need one
 *     of the API keys (env {@code QWEN_PROTECT_CHAT}). Off by default: on a trusted network the chat
 *     stays open, as it always was. On needs {@code qwen.api-keys}, or the server refuses to start.
 */
@Validated
@ConfigurationProperties("qwen.security")
public record AccessProperties(@DefaultValue("false") boolean protectChat) {
}

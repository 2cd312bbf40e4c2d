package qwenchat.hub;

import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import org.hibernate.validator.constraints.time.DurationMin;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.ConstructorBinding;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Where a model named by its hub id is downloaded from ({@code qwen.hub.*}); used only when
 * {@code qwen.model-dir} is unset and {@link #model} is set.
 *
 * @param model a Hugging Face repository id such as {@code Qwen/Qwen2.5-7B-Instruct} (env {@code QWEN_MODEL})
 * @param revision branch, tag or commit (env {@code QWEN_MODEL_REVISION})
 * @param endpoint a Hugging Face-compatible hub or mirror (env {@code HF_ENDPOINT})
 * @param token sent as a Bearer token, for gated or private repositories (env {@code HF_TOKEN})
 * @param cacheDir downloads land here, one directory per repository and revision (env {@code QWEN_MODEL_CACHE});
 *     unset means ~/.cache/qwen-chat/hub
 * @param timeout connect timeout, and the longest wait for a response's headers (HEAD, listing, file GET)
 * @param readTimeout the longest wait for the next bytes of a response body (env {@code QWEN_HUB_READ_TIMEOUT});
 *     a body silent that long is abandoned and, for a file, resumed like a dropped connection
 * @param retries how many times a dropped or stalled download is resumed before giving up
 */
@Validated
@ConfigurationProperties("qwen.hub")
public record HubProperties(
        @Pattern(regexp = "|[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*",
                message = "must be a hub repository id like Qwen/Qwen2.5-7B-Instruct") String model,
        @NotNull @Pattern(regexp = "[A-Za-z0-9][A-Za-z0-9._/-]*", message = "must be a branch, tag or commit")
        @DefaultValue("main") String revision,
        @NotNull @DefaultValue("https://huggingface.co") URI endpoint,
        String token,
        String cacheDir,
        @NotNull @DurationMin(millis = 1, message = "must be positive, e.g. 30s") @DefaultValue("30s") Duration timeout,
        @NotNull @DurationMin(millis = 1, message = "must be positive, e.g. 60s") @DefaultValue("60s") Duration readTimeout,
        @Min(value = 0, message = "must be 0 or more") @DefaultValue("5") int retries) {

    static final Duration DEFAULT_READ_TIMEOUT = Duration.ofSeconds(60);

    /** Without a read timeout: the default's. */
    public HubProperties(String model, String revision, URI endpoint, String token, String cacheDir, Duration timeout,
            int retries) {
        this(model, revision, endpoint, token, cacheDir, timeout, DEFAULT_READ_TIMEOUT, retries);
    }

    // Bound through the canonical constructor; the shorter one is for callers that take the default read timeout.
    @ConstructorBinding
    public HubProperties {
        if (model != null && model.isBlank()) model = null;
        if (token != null && token.isBlank()) token = null;
        if (cacheDir != null && cacheDir.isBlank()) cacheDir = null;
        if (revision == null || revision.isBlank()) revision = "main";
    }

    public boolean enabled() {
        return model != null;
    }

    public Path cacheRoot() {
        return cacheDir != null ? Path.of(cacheDir) : Path.of(System.getProperty("user.home"), ".cache", "qwen-chat", "hub");
    }
}

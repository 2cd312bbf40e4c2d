package qwenchat.hub;

import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
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
 * @param timeout connect timeout, and the longest wait for the next bytes of a response
 * @param retries how many times a dropped download is resumed before giving up
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
        @NotNull @DefaultValue("30s") Duration timeout,
        @DefaultValue("5") int retries) {

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

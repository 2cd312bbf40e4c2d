package qwenchat.serving;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * The server's {@code qwen.*} settings, checked at startup so a typo fails fast with the property's name.
 *
 * @param modelDir a Hugging Face model directory; unset means the demo checkpoint (env {@code QWEN_MODEL_DIR})
 * @param demoDir where the demo checkpoint is generated on first use; unset means the demo's own cache directory
 * @param engine which engine runs the model: auto (CUDA when available, else CPU), cuda or cpu
 * @param kvMaxSequences sequences decoded together at most (KV slots)
 * @param maxTokensPerSequence KV tokens per slot; unset means the model's whole context on a GPU, and
 *     the context capped at {@link #DEFAULT_CPU_TOKEN_CAP} on a CPU host so it does not reserve gigabytes per slot
 * @param queueLimit requests that may wait for a slot before new ones are refused with BUSY
 * @param requestTimeout a generation running longer than this is cancelled and its KV freed
 * @param cpuThreads CPU engine worker threads; unset means one per core
 * @param apiKeys accepted bearer keys for {@code /v1/**}; empty means no authentication
 * @param maxRequestBytes largest accepted HTTP request body
 */
@Validated
@ConfigurationProperties("qwen")
public record QwenProperties(
        String modelDir,
        String demoDir,
        @NotNull @Pattern(regexp = "auto|cuda|cpu", message = "must be auto, cuda or cpu") @DefaultValue("auto") String engine,
        @Min(1) @Max(1024) @DefaultValue("32") int kvMaxSequences,
        @Min(16) Integer maxTokensPerSequence,
        @Min(0) @Max(100_000) @DefaultValue("64") int queueLimit,
        @NotNull @DefaultValue("10m") Duration requestTimeout,
        @Min(1) @Max(1024) Integer cpuThreads,
        @NotNull @DefaultValue("") List<String> apiKeys,
        @Min(1024) @DefaultValue("1048576") int maxRequestBytes) {

    /** Tokens per sequence when the setting is absent: Qwen2.5's 32K context per slot is far too much for CPU RAM. */
    public static final int DEFAULT_CPU_TOKEN_CAP = 4096;

    public QwenProperties {
        apiKeys = apiKeys == null ? List.of() : apiKeys.stream().filter(k -> !k.isBlank()).toList();
        if (modelDir != null && modelDir.isBlank()) modelDir = null;
        if (demoDir != null && demoDir.isBlank()) demoDir = null;
    }

    /** Why a generation that hit {@link #requestTimeout} ended, worded the same for the API and the chat. */
    public String timeoutMessage() {
        long ms = requestTimeout.toMillis();
        String limit = ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms";
        return "the generation was stopped at the server's time limit of " + limit
                + " (qwen.request-timeout) before it finished";
    }

    /** Tokens per KV slot for a model whose context is {@code modelContext}. */
    public int tokensPerSequence(int modelContext, boolean kvCacheOnGpu) {
        if (maxTokensPerSequence != null) return Math.min(maxTokensPerSequence, modelContext);
        return kvCacheOnGpu ? modelContext : Math.min(DEFAULT_CPU_TOKEN_CAP, modelContext);
    }
}

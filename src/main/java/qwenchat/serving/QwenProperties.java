package qwenchat.serving;

import jakarta.validation.Valid;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import java.time.Duration;
import java.util.List;
import java.util.OptionalInt;
import org.springframework.util.unit.DataSize;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.ConstructorBinding;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;
import qwenchat.engine.placement.GpuSelection;
import qwenchat.model.RopeScalingSetting;

/**
 * The server's {@code qwen.*} settings, checked at startup so a typo fails fast with the property's name.
 *
 * @param modelDir a Hugging Face model directory; unset means the demo checkpoint (env {@code QWEN_MODEL_DIR})
 * @param demoDir where the demo checkpoint is generated on first use; unset means the demo's own cache directory
 * @param engine which engine runs the model: auto (CUDA when available, else CPU), cuda or cpu
 * @param kvMaxSequences sequences open in the KV cache at once, and so decoded together at most
 * @param maxTokensPerSequence the longest one sequence may grow (a limit, not a reservation: KV
 *     blocks are taken as tokens arrive); unset means the model's whole context on a GPU, and the
 *     context capped at {@link #DEFAULT_CPU_TOKEN_CAP} on a CPU host
 * @param queueLimit requests that may wait for a slot before new ones are refused with BUSY
 * @param requestTimeout a generation running longer than this is cancelled and its KV freed
 * @param cpuThreads CPU engine worker threads; unset means one per core
 * @param apiKeys accepted bearer keys for {@code /v1/**}; empty means no authentication
 * @param maxRequestBytes largest accepted HTTP request body
 * @param gpuMemoryUtilization fraction of the GPU's memory the process may use (vLLM's meaning); the
 *     KV cache gets what remains of it after weights and workspace
 * @param kvCacheBytes KV cache size (plain bytes or with a unit, e.g. {@code 12GB}), overriding {@code gpuMemoryUtilization} (and the CPU
 *     default of {@link #DEFAULT_KV_SEQUENCES} sequences of {@code maxTokensPerSequence})
 * @param kvBlockSize tokens per KV block
 * @param ropeScaling {@code none} (the checkpoint's config.json decides) or {@code yarn:FACTOR}, which
 *     enables YaRN on an unmodified Qwen2.5 checkpoint as its model card describes (see {@link RopeScalingSetting})
 * @param scheduler how the batching loop fills a step (see {@link Scheduler})
 * @param prefixCaching whether a request starts on cached KV blocks that hold the start of its
 *     prompt (automatic prefix caching), so a conversation's next turn and a shared system prompt
 *     prefill only their new tokens
 * @param gpus the GPUs the model's layers are split across, as device ordinals in stage order
 *     ({@code 0,1}), or {@code all} (every visible GPU); see {@link GpuSelection}
 * @param batchInvariant whether a request's logits are the same bits whatever else the GPU batches
 *     with it and however its prompt was chunked (greedy output reproducible under load); off lets
 *     each batch width take its fastest kernels. The CPU engine is batch-invariant either way
 */
@Validated
@ConfigurationProperties("qwen")
public record QwenProperties(
        String modelDir,
        String demoDir,
        @NotNull @Pattern(regexp = "auto|cuda|cpu", message = "must be auto, cuda or cpu") @DefaultValue("auto") String engine,
        @Min(1) @Max(1024) @DefaultValue("256") int kvMaxSequences,
        @Min(16) Integer maxTokensPerSequence,
        @Min(0) @Max(100_000) @DefaultValue("64") int queueLimit,
        @NotNull @DefaultValue("10m") Duration requestTimeout,
        @Min(1) @Max(1024) Integer cpuThreads,
        @NotNull @DefaultValue("") List<String> apiKeys,
        @Min(1024) @DefaultValue("1048576") int maxRequestBytes,
        @DecimalMin(value = "0.05") @DecimalMax("1.0") @DefaultValue("0.90") double gpuMemoryUtilization,
        DataSize kvCacheBytes,
        @Min(1) @Max(4096) @DefaultValue("64") int kvBlockSize,
        @NotNull @Pattern(regexp = RopeScalingSetting.PATTERN, message = "must be none or yarn:FACTOR, e.g. yarn:4")
        @DefaultValue("none") String ropeScaling,
        @NotNull @Valid @DefaultValue Scheduler scheduler,
        @DefaultValue("true") boolean prefixCaching,
        @DefaultValue("all") String gpus,
        @DefaultValue("false") boolean batchInvariant) {

    /**
     * The batching loop's settings.
     *
     * @param maxBatchedTokens tokens one engine step may carry: one per running decode, the rest
     *     prefill chunks, so a long prompt is prefilled over several steps while the other streams
     *     keep producing tokens. 1792 is the largest budget measured on an H100 with the 7B that holds
     *     16 streams' inter-token p99 under 60 ms while a 32K prompt prefills among them (56.5 ms; 2048
     *     gave 64), at 1.20x the prompt's time alone; other GPUs and models may tune it. Must exceed
     *     {@code kv-max-sequences}, so a full batch of decodes leaves room for a prefill chunk.
     * @param attentionBreakEven how many earlier tokens a prompt token attends to when its attention
     *     costs as much as its projections: a prefill chunk then takes more of the budget the later it
     *     sits in its prompt, so the last chunks of a long prompt slow the other streams no more than
     *     the first ones. Unset: the engine's own figure (the CPU engine's is 0); 0: chunks cost
     *     their tokens, however late; a measurement on the target GPU can set it.
     */
    public record Scheduler(@Min(1) @Max(1_048_576) @DefaultValue("1792") int maxBatchedTokens,
            @Min(0) Integer attentionBreakEven) {
        public static final Scheduler DEFAULTS = new Scheduler(1792, null);

        /** The break-even the planner charges chunks by; empty where the engine decides. */
        OptionalInt attentionBreakEvenSetting() {
            return attentionBreakEven == null ? OptionalInt.empty() : OptionalInt.of(attentionBreakEven);
        }
    }

    /**
     * Sequences of {@code maxTokensPerSequence} tokens the KV pool holds when nothing sizes it (CPU
     * engine, or a GPU engine that cannot report its memory): what 32 whole-context slots held before
     * the cache was paged. The CPU engine allocates blocks only as they fill, so this is a bound.
     */
    public static final int DEFAULT_KV_SEQUENCES = 32;

    /** Tokens per sequence when the setting is absent: Qwen2.5's 32K context per slot is far too much for CPU RAM. */
    public static final int DEFAULT_CPU_TOKEN_CAP = 4096;

    @ConstructorBinding
    public QwenProperties {
        apiKeys = apiKeys == null ? List.of() : apiKeys.stream().filter(k -> !k.isBlank()).toList();
        if (modelDir != null && modelDir.isBlank()) modelDir = null;
        if (demoDir != null && demoDir.isBlank()) demoDir = null;
        if (kvCacheBytes != null && kvCacheBytes.toBytes() <= 0) {
            throw new IllegalArgumentException("qwen.kv-cache-bytes must be positive, got " + kvCacheBytes);
        }
        if (scheduler == null) scheduler = Scheduler.DEFAULTS;
        gpus = GpuSelection.parse(gpus).text();
        if (scheduler.maxBatchedTokens() <= kvMaxSequences) {
            throw new IllegalArgumentException("qwen.scheduler.max-batched-tokens (" + scheduler.maxBatchedTokens()
                    + ") must be more than qwen.kv-max-sequences (" + kvMaxSequences
                    + "), so a step of decodes still leaves room for a prefill chunk");
        }
    }

    /** Why a generation that hit {@link #requestTimeout} ended, worded the same for the API and the chat. */
    public String timeoutMessage() {
        long ms = requestTimeout.toMillis();
        String limit = ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms";
        return "the generation was stopped at the server's time limit of " + limit
                + " (qwen.request-timeout) before it finished";
    }

    /** The settings as they were before the paged KV cache's, with those at their defaults. */
    public QwenProperties(String modelDir, String demoDir, String engine, int kvMaxSequences,
            Integer maxTokensPerSequence, int queueLimit, Duration requestTimeout, Integer cpuThreads,
            List<String> apiKeys, int maxRequestBytes) {
        this(modelDir, demoDir, engine, kvMaxSequences, maxTokensPerSequence, queueLimit, requestTimeout, cpuThreads,
                apiKeys, maxRequestBytes, 0.90, null, 64, "none");
    }

    /** The settings as they were before chunked prefill and prefix caching, with those at their defaults. */
    public QwenProperties(String modelDir, String demoDir, String engine, int kvMaxSequences,
            Integer maxTokensPerSequence, int queueLimit, Duration requestTimeout, Integer cpuThreads,
            List<String> apiKeys, int maxRequestBytes, double gpuMemoryUtilization, DataSize kvCacheBytes,
            int kvBlockSize, String ropeScaling) {
        this(modelDir, demoDir, engine, kvMaxSequences, maxTokensPerSequence, queueLimit, requestTimeout, cpuThreads,
                apiKeys, maxRequestBytes, gpuMemoryUtilization, kvCacheBytes, kvBlockSize, ropeScaling,
                Scheduler.DEFAULTS, true, "all", false);
    }

    /** These settings with another scheduler budget and prefix caching on or off (the attention break-even kept). */
    public QwenProperties withScheduling(int maxBatchedTokens, boolean prefixCaching) {
        return new QwenProperties(modelDir, demoDir, engine, kvMaxSequences, maxTokensPerSequence, queueLimit,
                requestTimeout, cpuThreads, apiKeys, maxRequestBytes, gpuMemoryUtilization, kvCacheBytes, kvBlockSize,
                ropeScaling, new Scheduler(maxBatchedTokens, scheduler.attentionBreakEven()), prefixCaching, gpus, batchInvariant);
    }

    /** The {@code qwen.gpus} setting, already checked for duplicates and negative ordinals at startup. */
    public GpuSelection gpuSelection() {
        return GpuSelection.parse(gpus);
    }

    /** The longest one sequence may grow for a model whose context is {@code modelContext}. */
    public int tokensPerSequence(int modelContext, boolean kvCacheOnGpu) {
        if (maxTokensPerSequence != null) return Math.min(maxTokensPerSequence, modelContext);
        return kvCacheOnGpu ? modelContext : Math.min(DEFAULT_CPU_TOKEN_CAP, modelContext);
    }
}

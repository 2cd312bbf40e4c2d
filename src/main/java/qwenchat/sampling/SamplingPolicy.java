package qwenchat.sampling;

import java.security.SecureRandom;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.GenerationConfig;
import qwenchat.presets.PresetSampling;

/**
 * The one place that decides sampling and length for a generation, for the chat socket and the
 * OpenAI API alike. Every setting is taken from the first of: the request, the preset,
 * generation_config.json, the server default. A default length is capped at the context left; a
 * length the request asks for is not, so the API can refuse one that cannot fit, as OpenAI does.
 *
 * <p>generation_config.json carries no length, so the length comes from the request, the preset,
 * or {@code qwen.default-max-tokens} (which falls back to the older {@code qwen.web.default-max-tokens},
 * 1024). Presets set no min-p and no presence or frequency penalty; those default to off.
 */
@Component
public class SamplingPolicy {

    public static final int DEFAULT_MAX_TOKENS = 1024;

    private final int defaultMaxTokens;
    private final SecureRandom seeds = new SecureRandom();

    public SamplingPolicy(@Value("${qwen.default-max-tokens:${qwen.web.default-max-tokens:" + DEFAULT_MAX_TOKENS + "}}")
            int defaultMaxTokens) {
        if (defaultMaxTokens < 1) {
            throw new IllegalArgumentException("qwen.default-max-tokens must be at least 1, got " + defaultMaxTokens);
        }
        this.defaultMaxTokens = defaultMaxTokens;
    }

    /** What was decided: how to sample, and how many tokens at most. */
    public record Resolved(SamplingParams sampling, int maxTokens) {
    }

    public int defaultMaxTokens() {
        return defaultMaxTokens;
    }

    /**
     * @param contextLeft tokens the context has room for after the prompt (at least 1)
     * @throws IllegalArgumentException naming the setting when a resolved value is out of range
     */
    public Resolved resolve(SamplingChoice request, PresetSampling preset, GenerationConfig model, int contextLeft) {
        SamplingChoice r = request == null ? SamplingChoice.NONE : request;
        PresetSampling p = preset == null ? PresetSampling.NONE : preset;
        long seed = r.seed() != null ? r.seed() : seeds.nextLong();
        SamplingParams m = SamplingParams.defaults(model, seed);
        SamplingParams sampling = new SamplingParams(
                first(r.temperature(), p.temperature(), m.temperature()),
                first(r.topK(), p.topK(), m.topK()),
                first(r.topP(), p.topP(), m.topP()),
                first(r.minP(), null, m.minP()),
                first(r.repetitionPenalty(), p.repetitionPenalty(), m.repetitionPenalty()),
                first(r.presencePenalty(), null, m.presencePenalty()),
                first(r.frequencyPenalty(), null, m.frequencyPenalty()),
                seed);
        if (r.maxTokens() != null) {
            if (r.maxTokens() < 1) throw new IllegalArgumentException("max_tokens must be at least 1, got " + r.maxTokens());
            return new Resolved(sampling, r.maxTokens());
        }
        return new Resolved(sampling, Math.min(first(p.maxTokens(), null, defaultMaxTokens), contextLeft));
    }

    private static <T> T first(T request, T preset, T fallback) {
        return request != null ? request : preset != null ? preset : fallback;
    }
}

package qwenchat.engine.sampling;

import qwenchat.model.GenerationConfig;

/**
 * How to pick the next token from logits. Applied in this order, as transformers does:
 * repetition penalty, presence/frequency penalty, temperature, top-k, top-p, min-p, then a draw.
 * A temperature of 0 means greedy (argmax of the penalised logits); so does any temperature below
 * {@link #GREEDY_BELOW}, normalised to 0 here so that neither engine ever divides logits by a
 * float that underflows to a denormal or zero (which turns every logit into an infinity).
 *
 * <p>Draws are counter-based: the uniform number for a sequence's n-th generated token is a pure
 * function of {@code (seed, n)}, so the same seed and parameters give the same tokens on the CPU
 * and the CUDA engine, alone or batched.
 *
 * @param topK 0 disables
 * @param topP 1 disables
 * @param minP 0 disables
 * @param repetitionPenalty 1 disables; divides positive logits and multiplies negative ones
 * @param presencePenalty 0 disables; subtracted once from every id generated so far
 * @param frequencyPenalty 0 disables; subtracted per occurrence among generated ids
 */
public record SamplingParams(
        double temperature,
        int topK,
        double topP,
        double minP,
        double repetitionPenalty,
        double presencePenalty,
        double frequencyPenalty,
        long seed) {

    /**
     * Temperatures below this sample as greedy: the distribution is already a point mass in float32
     * long before this, and dividing float logits by much smaller values overflows.
     */
    public static final double GREEDY_BELOW = 1e-5;

    public SamplingParams {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        }
        if (temperature < GREEDY_BELOW) temperature = 0;
        if (topK < 0) throw new IllegalArgumentException("top_k must be >= 0, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        if (!(minP >= 0 && minP <= 1)) throw new IllegalArgumentException("min_p must be in [0, 1], got " + minP);
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException("repetition_penalty must be > 0, got " + repetitionPenalty);
        }
        if (!(presencePenalty >= -2 && presencePenalty <= 2)) {
            throw new IllegalArgumentException("presence_penalty must be in [-2, 2], got " + presencePenalty);
        }
        if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2)) {
            throw new IllegalArgumentException("frequency_penalty must be in [-2, 2], got " + frequencyPenalty);
        }
    }

    public boolean greedy() {
        return temperature == 0;
    }

    public static SamplingParams greedyDecoding() {
        return new SamplingParams(0, 0, 1, 0, 1, 0, 0, 0);
    }

    /** The checkpoint's defaults; greedy when its generation_config.json turns sampling off. */
    public static SamplingParams defaults(GenerationConfig g, long seed) {
        double temperature = g.doSample() ? g.temperature() : 0;
        return new SamplingParams(temperature, g.topK(), g.topP(), 0, g.repetitionPenalty(), 0, 0, seed);
    }
}

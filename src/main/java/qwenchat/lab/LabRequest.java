package qwenchat.lab;

import qwenchat.engine.BiasMask;

/**
 * One bias-lab experiment as the page submits it.
 *
 * @param prompt the user message; the model's chat template wraps it (with the default system prompt)
 * @param projections which biases to leave out: any of the letters q, k and v (e.g. "qkv", "k")
 * @param fromLayer first ablated layer, 0-based
 * @param toLayer last ablated layer, inclusive
 * @param maxTokens tokens each greedy continuation may generate (1..{@link #MAX_TOKENS})
 */
public record LabRequest(String prompt, String projections, int fromLayer, int toLayer, int maxTokens) {

    /** Longest continuation a lab run may ask for: the lab compares, it does not chat. */
    public static final int MAX_TOKENS = 128;
    /** Longest prompt text, in characters. */
    public static final int MAX_PROMPT_CHARS = 8000;

    public LabRequest {
        if (prompt == null || prompt.isBlank()) throw new IllegalArgumentException("prompt: enter a prompt to run");
        if (prompt.length() > MAX_PROMPT_CHARS) {
            throw new IllegalArgumentException("prompt: at most " + MAX_PROMPT_CHARS + " characters, got " + prompt.length());
        }
        if (projections == null || projections.isEmpty() || !projections.matches("[qkvQKV]+")) {
            throw new IllegalArgumentException("projections: pick one or more of q, k and v, got '" + projections + "'");
        }
        projections = projections.toLowerCase();
        if (maxTokens < 1 || maxTokens > MAX_TOKENS) {
            throw new IllegalArgumentException("maxTokens: must be 1.." + MAX_TOKENS + ", got " + maxTokens);
        }
    }

    /** The {@link BiasMask} bits of {@link #projections}. */
    public int projectionBits() {
        int bits = 0;
        if (projections.indexOf('q') >= 0) bits |= BiasMask.Q;
        if (projections.indexOf('k') >= 0) bits |= BiasMask.K;
        if (projections.indexOf('v') >= 0) bits |= BiasMask.V;
        return bits;
    }

    /** The mask for a model of {@code layers} layers; a range outside the model is a clear error. */
    public BiasMask mask(int layers) {
        if (fromLayer < 0 || toLayer >= layers || fromLayer > toLayer) {
            throw new IllegalArgumentException("layers: the range " + fromLayer + ".." + toLayer
                    + " must lie within 0.." + (layers - 1) + " with from <= to");
        }
        return BiasMask.ablate(layers, fromLayer, toLayer, projectionBits());
    }
}

package qwenchat.engine;

/**
 * Deliberate changes to a checkpoint's weights at load time, for ablation studies: the golden tests
 * use {@link #zeroQkvBiases} to show that the q/k/v biases matter (transformers' bias-free run is
 * the reference). Engines apply them while loading, so the hot path has no special cases.
 */
public record WeightOverrides(boolean zeroQkvBiases) {

    public static final WeightOverrides NONE = new WeightOverrides(false);

    public boolean any() {
        return zeroQkvBiases;
    }
}

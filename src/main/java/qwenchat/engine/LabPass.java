package qwenchat.engine;

import java.util.function.Consumer;

/**
 * The bias lab's part of a {@link StepRequest}: run this sequence with some q/k/v biases left out
 * and, optionally, measure the pass. Null on every ordinary request, which then costs nothing.
 *
 * @param ablated the biases to leave out; empty computes exactly the normal pass
 * @param probe receives the {@link LabProbe} of a step that samples from a prefill (its last
 *     prompt position), on the engine's calling thread before {@code step} returns; null: measure
 *     nothing. Decode steps are never probed.
 */
public record LabPass(BiasMask ablated, Consumer<LabProbe> probe) {
    public LabPass {
        if (ablated == null) throw new IllegalArgumentException("a lab pass needs a bias mask (BiasMask.none for none)");
    }

    /** The biases a request's pass leaves out, or null when it leaves out none (an ordinary pass). */
    public static BiasMask droppedBiases(StepRequest r) {
        return r.lab() == null || r.lab().ablated().isEmpty() ? null : r.lab().ablated();
    }

    /** Refuses a pass whose mask was made for a model of another depth. */
    public void requireLayers(int layers) {
        if (ablated.layers() != layers) {
            throw new IllegalArgumentException("the bias mask covers " + ablated.layers() + " layers but the model has " + layers);
        }
    }

    /** Whether the pass computes keys and values that differ from a normal pass's (so none may be shared). */
    public boolean changesKv() {
        return !ablated.isEmpty();
    }
}

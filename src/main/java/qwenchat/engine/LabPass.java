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

    /** Whether the pass computes keys and values that differ from a normal pass's (so none may be shared). */
    public boolean changesKv() {
        return !ablated.isEmpty();
    }
}

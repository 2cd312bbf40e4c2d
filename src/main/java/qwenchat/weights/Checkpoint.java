package qwenchat.weights;

import java.nio.file.Path;
import java.util.Set;
import qwenchat.model.ModelConfig;

/**
 * A Qwen2 checkpoint's tensors: one {@code model.safetensors} or shards listed by
 * {@code model.safetensors.index.json}, validated on open, mapped per tensor on demand.
 */
public final class Checkpoint implements AutoCloseable {
    // SKELETON: the weights work fills this in.
    /** Opens the safetensors files in {@code modelDir}, validating every header. */
    public static Checkpoint open(Path modelDir) { throw new UnsupportedOperationException("TODO"); }
    public Set<String> tensorNames() { throw new UnsupportedOperationException("TODO"); }
    public boolean has(String name) { throw new UnsupportedOperationException("TODO"); }
    public TensorInfo info(String name) { throw new UnsupportedOperationException("TODO"); }
    /** Maps the tensor; the mapping stays valid until {@link #close()}. */
    public Tensor tensor(String name) { throw new UnsupportedOperationException("TODO"); }
    /** Sum of all tensor byte lengths. */
    public long totalBytes() { throw new UnsupportedOperationException("TODO"); }
    /** Checks that every tensor the config implies is present with its shape (q/k/v biases present, o_proj bias absent). */
    public void validateAgainst(ModelConfig config) { throw new UnsupportedOperationException("TODO"); }
    @Override
    public void close() { }
}

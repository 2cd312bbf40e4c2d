package qwenchat.engine.placement;

/**
 * Bytes a GPU needs beside its weights and KV blocks: activations, block table, upload staging and
 * reserve. The CUDA engine supplies its own arithmetic; it may depend on the card (a larger card gets
 * wider decode batches).
 */
@FunctionalInterface
public interface WorkspaceEstimate {

    long bytes(GpuDevice device);
}

package qwenchat.weights;

import java.nio.ByteBuffer;

/**
 * A memory-mapped tensor, read in place. A tensor is mapped as one or more little-endian,
 * read-only segments that each hold whole rows (the last dimension), so tensors over 2 GB work.
 * A 1-D tensor is one row.
 */
public final class Tensor {
    // SKELETON: the weights work fills this in (see TensorInfo, Checkpoint).
    public TensorInfo info() { throw new UnsupportedOperationException("TODO"); }
    /** Size of the last dimension (1-D: the length). */
    public int columns() { throw new UnsupportedOperationException("TODO"); }
    /** Product of all dimensions but the last (1-D: 1). */
    public long rows() { throw new UnsupportedOperationException("TODO"); }
    /** Number of mapped segments. */
    public int segmentCount() { throw new UnsupportedOperationException("TODO"); }
    /** Rows in each segment except maybe the last. */
    public long rowsPerSegment() { throw new UnsupportedOperationException("TODO"); }
    /** Segment {@code i}: a little-endian read-only buffer at position 0 starting at row {@code i*rowsPerSegment}. */
    public ByteBuffer segment(int i) { throw new UnsupportedOperationException("TODO"); }
    /** Element {@code index} (row-major) converted to float. */
    public float getFloat(long index) { throw new UnsupportedOperationException("TODO"); }
    /** Row {@code row} converted to float into {@code dst[off .. off+columns)}. */
    public void readRow(long row, float[] dst, int off) { throw new UnsupportedOperationException("TODO"); }
    /** The whole tensor converted to float (for small tensors: norms, biases). */
    public float[] toFloatArray() { throw new UnsupportedOperationException("TODO"); }
}

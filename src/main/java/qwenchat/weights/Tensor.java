package qwenchat.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.Objects;

/**
 * A memory-mapped tensor, read in place. A tensor is mapped as one or more little-endian,
 * read-only segments that each hold whole rows (the last dimension), so tensors over 2 GB work.
 * A 1-D tensor is one row.
 */
public final class Tensor {

    private final TensorInfo info;
    private final int columns;
    private final long rows;
    private final long rowsPerSegment;
    private final ByteBuffer[] segments;
    private final int elementBytes;

    private Tensor(TensorInfo info, int columns, long rows, long rowsPerSegment, ByteBuffer[] segments) {
        this.info = info;
        this.columns = columns;
        this.rows = rows;
        this.rowsPerSegment = rowsPerSegment;
        this.segments = segments;
        this.elementBytes = info.dtype().byteSize();
    }

    /**
     * Maps {@code info}'s byte range from {@code channel} in segments of at most
     * {@code maxSegmentBytes}, each cut at a row boundary so no row straddles two buffers.
     */
    static Tensor map(TensorInfo info, FileChannel channel, long maxSegmentBytes) throws IOException {
        List<Long> shape = info.shape();
        long lastDim = shape.isEmpty() ? 1 : shape.get(shape.size() - 1);
        if (lastDim > Integer.MAX_VALUE) {
            throw new SafetensorsException(info.file() + ": tensor '" + info.name() + "' has rows of " + lastDim
                    + " elements; at most " + Integer.MAX_VALUE + " are supported");
        }
        int columns = (int) lastDim;
        long rows = 1;
        for (int i = 0; i < shape.size() - 1; i++) rows = Math.multiplyExact(rows, shape.get(i));
        long rowBytes = (long) columns * info.dtype().byteSize();
        if (rowBytes > maxSegmentBytes) {
            throw new SafetensorsException(info.file() + ": tensor '" + info.name() + "' has rows of " + rowBytes
                    + " bytes, more than one mapped segment can hold (" + maxSegmentBytes + ")");
        }
        if (info.byteLength() == 0) {
            // Nothing to map; one empty buffer keeps segment(0) valid for every tensor.
            ByteBuffer empty = ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN).asReadOnlyBuffer();
            return new Tensor(info, columns, rows, Math.max(rows, 1), new ByteBuffer[] {empty});
        }
        long rowsPerSegment = Math.min(rows, maxSegmentBytes / rowBytes);
        long segmentCount = (rows + rowsPerSegment - 1) / rowsPerSegment;
        ByteBuffer[] segments = new ByteBuffer[Math.toIntExact(segmentCount)];
        for (int s = 0; s < segments.length; s++) {
            long firstRow = s * rowsPerSegment;
            long segmentRows = Math.min(rowsPerSegment, rows - firstRow);
            segments[s] = channel.map(FileChannel.MapMode.READ_ONLY,
                            info.fileOffset() + firstRow * rowBytes, segmentRows * rowBytes)
                    .order(ByteOrder.LITTLE_ENDIAN);
        }
        return new Tensor(info, columns, rows, rowsPerSegment, segments);
    }

    public TensorInfo info() {
        return info;
    }

    public DType dtype() {
        return info.dtype();
    }

    public List<Long> shape() {
        return info.shape();
    }

    /** Size of the last dimension (1-D: the length). */
    public int columns() {
        return columns;
    }

    /** Product of all dimensions but the last (1-D: 1). */
    public long rows() {
        return rows;
    }

    /** Bytes in one row: {@code columns * dtype size}. */
    public long rowBytes() {
        return (long) columns * elementBytes;
    }

    /** Number of mapped segments. */
    public int segmentCount() {
        return segments.length;
    }

    /** Rows in each segment except maybe the last. */
    public long rowsPerSegment() {
        return rowsPerSegment;
    }

    /** Rows held by segment {@code i}. */
    public long segmentRows(int i) {
        Objects.checkIndex(i, segments.length);
        return Math.min(rowsPerSegment, rows - i * rowsPerSegment);
    }

    /** Segment {@code i}: a little-endian read-only buffer at position 0 starting at row {@code i*rowsPerSegment}. */
    public ByteBuffer segment(int i) {
        Objects.checkIndex(i, segments.length);
        // duplicate() resets the byte order, and gives each caller its own position.
        return segments[i].duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Element {@code index} (row-major) converted to float. */
    public float getFloat(long index) {
        long count = info.elementCount();
        if (index < 0 || index >= count) {
            throw new IndexOutOfBoundsException("element " + index + " of tensor '" + info.name()
                    + "' with " + count + " elements");
        }
        long row = index / columns;
        int seg = (int) (row / rowsPerSegment);
        long offset = ((row - seg * rowsPerSegment) * columns + index % columns) * elementBytes;
        return element(segments[seg], (int) offset);
    }

    /** Row {@code row} converted to float into {@code dst[off .. off+columns)}. */
    public void readRow(long row, float[] dst, int off) {
        if (row < 0 || row >= rows) {
            throw new IndexOutOfBoundsException("row " + row + " of tensor '" + info.name() + "' with " + rows + " rows");
        }
        Objects.checkFromIndexSize(off, columns, dst.length);
        int seg = (int) (row / rowsPerSegment);
        ByteBuffer buf = segments[seg];
        int base = (int) ((row - seg * rowsPerSegment) * columns * elementBytes);
        switch (info.dtype()) {
            case BF16 -> {
                for (int c = 0; c < columns; c++) dst[off + c] = Bf16.toFloat(buf.getShort(base + 2 * c));
            }
            case F16 -> {
                for (int c = 0; c < columns; c++) dst[off + c] = Float.float16ToFloat(buf.getShort(base + 2 * c));
            }
            case F32 -> {
                for (int c = 0; c < columns; c++) dst[off + c] = buf.getFloat(base + 4 * c);
            }
        }
    }

    /** The whole tensor converted to float (for small tensors: norms, biases). */
    public float[] toFloatArray() {
        long count = info.elementCount();
        if (count > Integer.MAX_VALUE - 8) {
            throw new SafetensorsException("tensor '" + info.name() + "' has " + count
                    + " elements, too many for one float array; read it by rows");
        }
        float[] out = new float[(int) count];
        for (long r = 0; r < rows && columns > 0; r++) readRow(r, out, (int) (r * columns));
        return out;
    }

    private float element(ByteBuffer buf, int offset) {
        return switch (info.dtype()) {
            case BF16 -> Bf16.toFloat(buf.getShort(offset));
            case F16 -> Float.float16ToFloat(buf.getShort(offset));
            case F32 -> buf.getFloat(offset);
        };
    }

    @Override
    public String toString() {
        return "Tensor[" + info.name() + " " + info.dtype() + " " + info.shape() + ", " + segments.length + " segment(s)]";
    }
}

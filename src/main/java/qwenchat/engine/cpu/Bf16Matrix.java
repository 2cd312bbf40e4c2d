package qwenchat.engine.cpu;

import java.nio.ByteBuffer;
import qwenchat.weights.DType;
import qwenchat.weights.Tensor;

/**
 * A bf16 weight matrix {@code [rows][cols]} read in place from the checkpoint's memory map: no
 * copy, so a 7B model needs no heap beyond the mapping.
 */
final class Bf16Matrix {

    final String name;
    final int rows;
    final int cols;
    private final ByteBuffer[] segments;
    private final int rowsPerSegment;

    Bf16Matrix(String name, Tensor t) {
        if (t.info().dtype() != DType.BF16) {
            throw new IllegalArgumentException("tensor " + name + " is " + t.info().dtype()
                    + "; the CPU engine reads matrices as BF16 only");
        }
        if (t.rows() > Integer.MAX_VALUE) throw new IllegalArgumentException("tensor " + name + " has too many rows");
        this.name = name;
        this.rows = (int) t.rows();
        this.cols = t.columns();
        this.segments = new ByteBuffer[t.segmentCount()];
        for (int i = 0; i < segments.length; i++) segments[i] = t.segment(i);
        this.rowsPerSegment = (int) Math.min(Integer.MAX_VALUE, t.rowsPerSegment());
    }

    ByteBuffer segmentOf(int row) {
        return segments[row / rowsPerSegment];
    }

    /** Byte offset of {@code row} inside {@link #segmentOf}. */
    int offsetOf(int row) {
        return (row % rowsPerSegment) * cols * 2;
    }

    long bytes() {
        return (long) rows * cols * 2;
    }

    static float bf16(int bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /** Row {@code row} as floats into {@code dst[0..cols)}. */
    void readRow(int row, float[] dst) {
        ByteBuffer seg = segmentOf(row);
        int base = offsetOf(row);
        int c = 0;
        for (; c + 3 < cols; c += 4) {
            long v = seg.getLong(base + 2 * c);
            dst[c] = Float.intBitsToFloat((int) v << 16);
            dst[c + 1] = Float.intBitsToFloat((int) (v >>> 16) << 16);
            dst[c + 2] = Float.intBitsToFloat((int) (v >>> 32) << 16);
            dst[c + 3] = Float.intBitsToFloat((int) (v >>> 48) << 16);
        }
        for (; c < cols; c++) dst[c] = bf16(seg.getShort(base + 2 * c));
    }

    /** Dot product of {@code row} with {@code x[0..cols)}, eight partial sums. */
    float dot(int row, float[] x) {
        ByteBuffer seg = segmentOf(row);
        int base = offsetOf(row);
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int c = 0;
        for (; c + 7 < cols; c += 8) {
            long a = seg.getLong(base + 2 * c);
            long b = seg.getLong(base + 2 * c + 8);
            s0 += Float.intBitsToFloat((int) a << 16) * x[c];
            s1 += Float.intBitsToFloat((int) (a >>> 16) << 16) * x[c + 1];
            s2 += Float.intBitsToFloat((int) (a >>> 32) << 16) * x[c + 2];
            s3 += Float.intBitsToFloat((int) (a >>> 48) << 16) * x[c + 3];
            s4 += Float.intBitsToFloat((int) b << 16) * x[c + 4];
            s5 += Float.intBitsToFloat((int) (b >>> 16) << 16) * x[c + 5];
            s6 += Float.intBitsToFloat((int) (b >>> 32) << 16) * x[c + 6];
            s7 += Float.intBitsToFloat((int) (b >>> 48) << 16) * x[c + 7];
        }
        float s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
        for (; c < cols; c++) s += bf16(seg.getShort(base + 2 * c)) * x[c];
        return s;
    }
}

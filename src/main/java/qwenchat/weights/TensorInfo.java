package qwenchat.weights;

import java.nio.file.Path;
import java.util.List;

/**
 * Where one tensor lives: its file, its absolute byte range there, its dtype and shape.
 *
 * @param fileOffset absolute offset of the first byte in {@code file} (header already skipped)
 */
public record TensorInfo(String name, DType dtype, List<Long> shape, Path file, long fileOffset, long byteLength) {
    public TensorInfo {
        shape = List.copyOf(shape);
    }

    public long elementCount() {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }
}

package qwenchat.weights;

import java.nio.file.Path;
import java.util.List;

/** Writes a single-file safetensors checkpoint: for the demo checkpoint and for tests. */
public final class SafetensorsWriter {
    // SKELETON: the weights work fills this in.
    /** Adds a BF16 tensor from float values (rounded to nearest even). */
    public SafetensorsWriter addBf16(String name, List<Long> shape, float[] values) { throw new UnsupportedOperationException("TODO"); }
    /** Adds an F32 tensor. */
    public SafetensorsWriter addF32(String name, List<Long> shape, float[] values) { throw new UnsupportedOperationException("TODO"); }
    /** Adds raw bytes of any dtype, as they will appear in the file. */
    public SafetensorsWriter addRaw(String name, DType dtype, List<Long> shape, byte[] data) { throw new UnsupportedOperationException("TODO"); }
    /** Writes header and data to {@code file}; optional __metadata__ string map. */
    public void write(Path file, java.util.Map<String, String> metadata) { throw new UnsupportedOperationException("TODO"); }
}

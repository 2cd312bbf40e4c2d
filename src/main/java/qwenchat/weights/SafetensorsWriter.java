package qwenchat.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Writes a single-file safetensors checkpoint: for the demo checkpoint and for tests. Tensors
 * are laid out in the order they were added; values are encoded when added, so callers may
 * reuse their arrays.
 */
public final class SafetensorsWriter {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private record Pending(String name, DType dtype, List<Long> shape, byte[] data) {
    }

    private final Map<String, Pending> tensors = new LinkedHashMap<>();

    /** Adds a BF16 tensor from float values (rounded to nearest even). */
    public SafetensorsWriter addBf16(String name, List<Long> shape, float[] values) {
        ByteBuffer b = allocate(name, DType.BF16, shape, values.length);
        for (float v : values) b.putShort(Bf16.fromFloat(v));
        return put(name, DType.BF16, shape, b.array());
    }

    /** Adds an F16 tensor from float values (rounded to nearest even by {@link Float#floatToFloat16}). */
    public SafetensorsWriter addF16(String name, List<Long> shape, float[] values) {
        ByteBuffer b = allocate(name, DType.F16, shape, values.length);
        for (float v : values) b.putShort(Float.floatToFloat16(v));
        return put(name, DType.F16, shape, b.array());
    }

    /** Adds an F32 tensor. */
    public SafetensorsWriter addF32(String name, List<Long> shape, float[] values) {
        ByteBuffer b = allocate(name, DType.F32, shape, values.length);
        for (float v : values) b.putFloat(v);
        return put(name, DType.F32, shape, b.array());
    }

    /** Adds raw bytes of any dtype, as they will appear in the file. */
    public SafetensorsWriter addRaw(String name, DType dtype, List<Long> shape, byte[] data) {
        long expected = Math.multiplyExact(elementCount(name, shape), dtype.byteSize());
        if (data.length != expected) {
            throw new IllegalArgumentException("tensor '" + name + "': " + data.length + " bytes given, shape "
                    + shape + " of " + dtype.safetensorsName() + " needs " + expected);
        }
        return put(name, dtype, shape, data.clone());
    }

    /** Writes header and data to {@code file}; optional __metadata__ string map. */
    public void write(Path file, Map<String, String> metadata) {
        byte[] header = headerBytes(metadata);
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip();
            writeFully(out, length);
            writeFully(out, ByteBuffer.wrap(header));
            for (Pending p : tensors.values()) writeFully(out, ByteBuffer.wrap(p.data));
        } catch (IOException ex) {
            throw new SafetensorsException(file + ": cannot write: " + ex, ex);
        }
    }

    /**
     * The JSON header, padded with spaces to a multiple of 8 bytes as the reference
     * implementation does, so that data starts 8-byte aligned in the file.
     */
    byte[] headerBytes(Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = root.putObject(SafetensorsHeader.METADATA_KEY);
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Pending p : tensors.values()) {
            ObjectNode t = root.putObject(p.name);
            t.put("dtype", p.dtype.safetensorsName());
            ArrayNode shape = t.putArray("shape");
            p.shape.forEach(shape::add);
            long end = offset + p.data.length;
            t.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json = JSON.writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) & ~7;
        byte[] out = new byte[padded];
        System.arraycopy(json, 0, out, 0, json.length);
        java.util.Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    private static void writeFully(FileChannel out, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) out.write(b);
    }

    private ByteBuffer allocate(String name, DType dtype, List<Long> shape, int valueCount) {
        long count = elementCount(name, shape);
        if (count != valueCount) {
            throw new IllegalArgumentException("tensor '" + name + "': " + valueCount + " values given, shape "
                    + shape + " holds " + count);
        }
        return ByteBuffer.allocate(Math.multiplyExact(valueCount, dtype.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static long elementCount(String name, List<Long> shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("tensor '" + name + "': negative dimension in shape " + shape);
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    private SafetensorsWriter put(String name, DType dtype, List<Long> shape, byte[] data) {
        if (SafetensorsHeader.METADATA_KEY.equals(name)) {
            throw new IllegalArgumentException("'" + name + "' is reserved for metadata, not a tensor name");
        }
        if (tensors.containsKey(name)) {
            throw new IllegalArgumentException("tensor '" + name + "' was already added");
        }
        tensors.put(name, new Pending(name, dtype, new ArrayList<>(shape), data));
        return this;
    }
}

package qwenchat.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The parsed and validated header of one safetensors file: the tensors it holds (in data order)
 * and its optional {@code __metadata__}. Reads only the 8-byte length and the JSON header, never
 * tensor data.
 */
record SafetensorsHeader(Path file, long headerLength, List<TensorInfo> tensors, Map<String, String> metadata) {

    /** The format's own cap (the reference implementation refuses larger headers). */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    static final JsonMapper STRICT_JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    SafetensorsHeader {
        tensors = List.copyOf(tensors);
        metadata = Map.copyOf(metadata);
    }

    static SafetensorsHeader read(Path file, FileChannel channel) throws IOException {
        long fileSize = channel.size();
        if (fileSize < 8) {
            throw new SafetensorsException(file + ": file is " + fileSize
                    + " bytes, too short for the 8-byte header length of a safetensors file");
        }
        ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, lengthBytes, 0);
        long headerLength = lengthBytes.getLong(0);
        // Compared unsigned: a u64 above 2^63 reads as negative here.
        if (Long.compareUnsigned(headerLength, MAX_HEADER_BYTES) > 0) {
            throw new SafetensorsException(file + ": header length " + Long.toUnsignedString(headerLength)
                    + " bytes exceeds the " + MAX_HEADER_BYTES + "-byte (100 MB) limit of the safetensors format");
        }
        if (headerLength > fileSize - 8) {
            throw new SafetensorsException(file + ": header length " + headerLength
                    + " bytes runs past the end of the file (" + fileSize + " bytes, " + (fileSize - 8)
                    + " after the length prefix)");
        }
        ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
        readFully(channel, headerBytes, 8);
        headerBytes.flip();
        String json = decodeUtf8(file, headerBytes);
        return parse(file, headerLength, json, fileSize - 8 - headerLength);
    }

    private static void readFully(FileChannel channel, ByteBuffer dst, long position) throws IOException {
        while (dst.hasRemaining()) {
            int n = channel.read(dst, position);
            if (n < 0) throw new IOException("unexpected end of file at byte " + position);
            position += n;
        }
    }

    private static String decodeUtf8(Path file, ByteBuffer bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes).toString();
        } catch (CharacterCodingException ex) {
            throw new SafetensorsException(file + ": header is not valid UTF-8 (at header byte "
                    + bytes.position() + ")", ex);
        }
    }

    /** Validates {@code json} as the header of a file whose data section holds {@code dataBytes}. */
    static SafetensorsHeader parse(Path file, long headerLength, String json, long dataBytes) {
        if (!json.startsWith("{")) {
            throw new SafetensorsException(file + ": header must be a JSON object starting with '{'");
        }
        JsonNode root;
        try {
            root = STRICT_JSON.readTree(json);
        } catch (JacksonException ex) {
            String why = ex.getOriginalMessage();
            // Jackson's strict duplicate detection names the repeated key; say what it means here.
            String what = why != null && why.startsWith("Duplicate") ? "header repeats a name (duplicate tensor names are not allowed): "
                    : "header is not valid JSON: ";
            throw new SafetensorsException(file + ": " + what + why, ex);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(file + ": header must be a JSON object");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (METADATA_KEY.equals(e.getKey())) {
                metadata = parseMetadata(file, e.getValue());
            } else {
                entries.add(parseEntry(file, e.getKey(), e.getValue()));
            }
        }
        checkContiguous(file, entries, dataBytes);
        long dataStart = 8 + headerLength;
        List<TensorInfo> tensors = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            tensors.add(new TensorInfo(e.name, e.dtype, e.shape, file, dataStart + e.begin, e.end - e.begin));
        }
        return new SafetensorsHeader(file, headerLength, tensors, metadata);
    }

    private record Entry(String name, DType dtype, List<Long> shape, long begin, long end) {
    }

    private static Map<String, String> parseMetadata(Path file, JsonNode node) {
        if (!node.isObject()) {
            throw new SafetensorsException(file + ": '" + METADATA_KEY + "' must be a string-to-string object, got " + node);
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isString()) {
                throw new SafetensorsException(file + ": '" + METADATA_KEY + "' entry '" + e.getKey()
                        + "' must be a string, got " + e.getValue());
            }
            metadata.put(e.getKey(), e.getValue().asString());
        }
        return metadata;
    }

    private static Entry parseEntry(Path file, String name, JsonNode node) {
        String where = file + ": tensor '" + name + "'";
        if (!node.isObject()) {
            throw new SafetensorsException(where + ": entry must be an object with dtype, shape and data_offsets, got " + node);
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isString()) {
            throw new SafetensorsException(where + ": field 'dtype' is missing or not a string");
        }
        DType dtype = dtypeOf(where, dtypeNode.asString());

        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new SafetensorsException(where + ": field 'shape' is missing or not an array");
        }
        List<Long> shape = new ArrayList<>(shapeNode.size());
        for (JsonNode d : shapeNode) {
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                throw new SafetensorsException(where + ": field 'shape' must hold non-negative integers, got " + shapeNode);
            }
            shape.add(d.asLong());
        }

        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2) {
            throw new SafetensorsException(where + ": field 'data_offsets' must be an array [begin, end]");
        }
        for (JsonNode o : offsets) {
            if (!o.isIntegralNumber() || !o.canConvertToLong() || o.asLong() < 0) {
                throw new SafetensorsException(where + ": field 'data_offsets' must hold two non-negative integers, got " + offsets);
            }
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (end < begin) {
            throw new SafetensorsException(where + ": data_offsets " + offsets + " end before they begin");
        }

        long expected;
        try {
            long elements = 1;
            for (long d : shape) elements = Math.multiplyExact(elements, d);
            expected = Math.multiplyExact(elements, dtype.byteSize());
        } catch (ArithmeticException ex) {
            throw new SafetensorsException(where + ": shape " + shape + " of " + dtype.safetensorsName()
                    + " overflows a 64-bit byte count", ex);
        }
        if (end - begin != expected) {
            throw new SafetensorsException(where + ": data_offsets " + offsets + " span " + (end - begin)
                    + " bytes, but shape " + shape + " of " + dtype.safetensorsName() + " needs " + expected);
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static DType dtypeOf(String where, String name) {
        for (DType t : DType.values()) {
            if (t.safetensorsName().equals(name)) return t;
        }
        throw new SafetensorsException(where + ": dtype '" + name + "' is not supported (supported: BF16, F16, F32)");
    }

    /**
     * The format requires the tensors to tile the data section exactly: sorted by offset, each
     * begins where the previous ends, the first at 0 and the last at the end of the file.
     */
    private static void checkContiguous(Path file, List<Entry> entries, long dataBytes) {
        entries.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long expectedBegin = 0;
        Entry previous = null;
        for (Entry e : entries) {
            if (e.end > dataBytes) {
                throw new SafetensorsException(file + ": tensor '" + e.name + "' ends at data byte " + e.end
                        + ", past the end of the file (data section holds " + dataBytes + " bytes)");
            }
            if (e.begin > expectedBegin) {
                throw new SafetensorsException(file + ": gap of " + (e.begin - expectedBegin)
                        + " bytes before tensor '" + e.name + "' (data bytes " + expectedBegin + ".." + e.begin
                        + (previous == null ? ", before the first tensor" : ", after tensor '" + previous.name + "'")
                        + "); tensors must be contiguous");
            }
            if (e.begin < expectedBegin) {
                throw new SafetensorsException(file + ": tensor '" + e.name + "' (data bytes " + e.begin + ".." + e.end
                        + ") overlaps tensor '" + previous.name + "' (data bytes " + previous.begin + ".." + previous.end + ")");
            }
            expectedBegin = e.end;
            previous = e;
        }
        if (expectedBegin != dataBytes) {
            throw new SafetensorsException(file + ": " + (dataBytes - expectedBegin)
                    + " bytes after the last tensor" + (previous == null ? "" : " '" + previous.name + "'")
                    + " (data section holds " + dataBytes + " bytes, tensors end at " + expectedBegin
                    + "); the last tensor must end at the end of the file");
        }
    }
}

package qwenchat.weights;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import qwenchat.model.ModelConfig;

/**
 * A Qwen2 checkpoint's tensors: one {@code model.safetensors} or shards listed by
 * {@code model.safetensors.index.json}, validated on open, mapped per tensor on demand.
 * Opening reads only the headers; {@link #tensor(String)} maps a tensor the first time it is
 * asked for and caches it. Thread-safe.
 */
public final class Checkpoint implements AutoCloseable {

    static final String SINGLE_FILE = "model.safetensors";

    /** FileChannel.map cannot map more than this in one buffer. */
    static final long DEFAULT_MAX_SEGMENT_BYTES = Integer.MAX_VALUE;

    private final Path source;
    private final Map<String, TensorInfo> infos;          // in file order, then data order
    private final Map<Path, FileChannel> channels;
    private final Map<Path, SafetensorsHeader> headers;
    private final long maxSegmentBytes;
    private final Map<String, Tensor> mapped = new ConcurrentHashMap<>();
    private volatile boolean closed;

    private Checkpoint(Path source, Map<String, TensorInfo> infos, Map<Path, FileChannel> channels,
                       Map<Path, SafetensorsHeader> headers, long maxSegmentBytes) {
        this.source = source;
        this.infos = Collections.unmodifiableMap(infos);
        this.channels = channels;
        this.headers = Collections.unmodifiableMap(headers);
        this.maxSegmentBytes = maxSegmentBytes;
    }

    /**
     * Opens the safetensors files in {@code modelDir}, validating every header. Uses
     * {@code model.safetensors} when present, else {@code model.safetensors.index.json} and its
     * shards. {@code modelDir} may also be a single {@code .safetensors} file.
     */
    public static Checkpoint open(Path modelDir) {
        return open(modelDir, DEFAULT_MAX_SEGMENT_BYTES);
    }

    /** As {@link #open(Path)}, mapping segments of at most {@code maxSegmentBytes}; tests force splitting with it. */
    static Checkpoint open(Path modelDir, long maxSegmentBytes) {
        if (maxSegmentBytes <= 0 || maxSegmentBytes > DEFAULT_MAX_SEGMENT_BYTES) {
            throw new IllegalArgumentException("maxSegmentBytes " + maxSegmentBytes + " outside 1.." + DEFAULT_MAX_SEGMENT_BYTES);
        }
        if (Files.isRegularFile(modelDir)) {
            return openFiles(modelDir, List.of(modelDir), null, maxSegmentBytes);
        }
        if (!Files.isDirectory(modelDir)) {
            throw new SafetensorsException(modelDir + ": no such model directory or safetensors file");
        }
        Path single = modelDir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            return openFiles(modelDir, List.of(single), null, maxSegmentBytes);
        }
        Path indexFile = modelDir.resolve(ShardIndex.FILE_NAME);
        if (Files.isRegularFile(indexFile)) {
            ShardIndex index = ShardIndex.read(indexFile);
            return openFiles(modelDir, List.copyOf(index.shards()), index, maxSegmentBytes);
        }
        throw new SafetensorsException(modelDir + ": holds neither " + SINGLE_FILE + " nor " + ShardIndex.FILE_NAME);
    }

    private static Checkpoint openFiles(Path source, List<Path> files, ShardIndex index, long maxSegmentBytes) {
        Map<Path, FileChannel> channels = new LinkedHashMap<>();
        try {
            Map<Path, SafetensorsHeader> headers = new LinkedHashMap<>();
            Map<String, TensorInfo> infos = new LinkedHashMap<>();
            for (Path file : files) {
                FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
                channels.put(file, channel);
                SafetensorsHeader header = SafetensorsHeader.read(file, channel);
                headers.put(file, header);
                for (TensorInfo t : header.tensors()) {
                    TensorInfo earlier = infos.putIfAbsent(t.name(), t);
                    if (earlier != null) {
                        throw new SafetensorsException(file + ": tensor '" + t.name() + "' is also in " + earlier.file());
                    }
                    if (index != null && !file.equals(index.weightMap().get(t.name()))) {
                        Path listed = index.weightMap().get(t.name());
                        throw new SafetensorsException(file + ": tensor '" + t.name() + "' is in this shard but "
                                + (listed == null ? "not listed in " + index.indexFile()
                                                  : index.indexFile() + " places it in " + listed.getFileName()));
                    }
                }
            }
            if (index != null) checkIndexComplete(index, infos);
            return new Checkpoint(source, infos, channels, headers, maxSegmentBytes);
        } catch (IOException ex) {
            closeAll(channels.values());
            throw new SafetensorsException(source + ": cannot read: " + ex, ex);
        } catch (RuntimeException ex) {
            closeAll(channels.values());
            throw ex;
        }
    }

    private static void checkIndexComplete(ShardIndex index, Map<String, TensorInfo> infos) {
        List<String> absent = new ArrayList<>();
        for (Map.Entry<String, Path> e : index.weightMap().entrySet()) {
            if (!infos.containsKey(e.getKey())) absent.add(e.getKey() + " (in " + e.getValue().getFileName() + ")");
        }
        if (!absent.isEmpty()) {
            throw new SafetensorsException(index.indexFile() + ": " + absent.size()
                    + " tensor(s) listed in weight_map are absent from their shard: " + NameList.of(absent));
        }
    }

    private static void closeAll(Iterable<FileChannel> channels) {
        for (FileChannel c : channels) {
            try {
                c.close();
            } catch (IOException ignored) {
                // Already failing or closing; the first error is the one worth reporting.
            }
        }
    }

    /** The directory (or single file) this checkpoint was opened from. */
    public Path source() {
        return source;
    }

    /** Every tensor name, in file order and, within a file, data order. */
    public Set<String> tensorNames() {
        return infos.keySet();
    }

    public boolean has(String name) {
        return infos.containsKey(name);
    }

    /** Where {@code name} lives; throws naming the tensor when it is absent. */
    public TensorInfo info(String name) {
        TensorInfo info = infos.get(name);
        if (info == null) throw new SafetensorsException(source + ": no tensor named '" + name + "'");
        return info;
    }

    /** All tensor descriptions, in the order of {@link #tensorNames()}. */
    public List<TensorInfo> infos() {
        return List.copyOf(infos.values());
    }

    /** The files read, each with its {@code __metadata__} (empty when the file has none). */
    public Map<Path, Map<String, String>> metadata() {
        Map<Path, Map<String, String>> out = new LinkedHashMap<>();
        headers.forEach((file, h) -> out.put(file, h.metadata()));
        return Collections.unmodifiableMap(out);
    }

    /** Maps the tensor; the mapping stays valid until {@link #close()}. */
    public Tensor tensor(String name) {
        if (closed) throw new IllegalStateException(source + ": checkpoint is closed");
        TensorInfo info = info(name);
        return mapped.computeIfAbsent(name, n -> {
            try {
                return Tensor.map(info, channels.get(info.file()), maxSegmentBytes);
            } catch (IOException ex) {
                throw new SafetensorsException(info.file() + ": cannot map tensor '" + name + "': " + ex, ex);
            }
        });
    }

    /** Number of tensors mapped so far (opening maps none). */
    int mappedCount() {
        return mapped.size();
    }

    /** Sum of all tensor byte lengths. */
    public long totalBytes() {
        long total = 0;
        for (TensorInfo t : infos.values()) total += t.byteLength();
        return total;
    }

    /** Checks that every tensor the config implies is present with its shape (q/k/v biases present, o_proj bias absent). */
    public void validateAgainst(ModelConfig config) {
        ConfigTensorCheck.check(this, config);
    }

    /** Counts, bytes and dtypes per tensor family. */
    public CheckpointSummary summary() {
        return CheckpointSummary.of(infos.values());
    }

    /**
     * Closes the files. Java releases a mapping only when its buffer is garbage collected, so the
     * cache of mapped tensors is dropped here and callers must not use their tensors afterwards.
     */
    @Override
    public void close() {
        closed = true;
        mapped.clear();
        closeAll(channels.values());
    }
}

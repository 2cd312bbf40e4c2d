package qwenchat.weights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

/**
 * {@code model.safetensors.index.json}: which shard file holds each tensor. Shard names must be
 * plain file names inside the model directory, so an index cannot point the reader elsewhere.
 */
record ShardIndex(Path indexFile, Map<String, Path> weightMap, Set<Path> shards) {

    static final String FILE_NAME = "model.safetensors.index.json";

    ShardIndex {
        weightMap = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(weightMap));
        shards = java.util.Collections.unmodifiableSet(new LinkedHashSet<>(shards));
    }

    static ShardIndex read(Path indexFile) {
        Path dir = indexFile.toAbsolutePath().getParent();
        JsonNode root;
        try {
            root = SafetensorsHeader.STRICT_JSON.readTree(Files.readString(indexFile));
        } catch (IOException ex) {
            throw new SafetensorsException(indexFile + ": cannot read: " + ex, ex);
        } catch (JacksonException ex) {
            throw new SafetensorsException(indexFile + ": not valid JSON: " + ex.getOriginalMessage(), ex);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(indexFile + ": expected a JSON object at the top level");
        }
        JsonNode map = root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new SafetensorsException(indexFile + ": field 'weight_map' is missing or not an object");
        }
        Map<String, Path> weightMap = new LinkedHashMap<>();
        Map<String, Path> checked = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            if (!e.getValue().isString()) {
                throw new SafetensorsException(indexFile + ": weight_map entry for tensor '" + e.getKey()
                        + "' must be a shard file name, got " + e.getValue());
            }
            String shard = e.getValue().asString();
            Path path = checked.get(shard);
            if (path == null) {
                path = checkShard(indexFile, e.getKey(), shard, dir);
                checked.put(shard, path);
            }
            weightMap.put(e.getKey(), path);
        }
        return new ShardIndex(indexFile, weightMap, new LinkedHashSet<>(checked.values()));
    }

    private static Path checkShard(Path indexFile, String tensor, String shard, Path dir) {
        String where = indexFile + ": weight_map entry for tensor '" + tensor + "' names shard '" + shard + "'";
        if (shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.equals("..") || shard.equals(".")
                || shard.indexOf('\0') >= 0 || shard.contains(":")) {
            throw new SafetensorsException(where + ", which is not a plain file name inside the model directory"
                    + " (no '/', '\\', '..', ':' or absolute paths)");
        }
        Path path = dir.resolve(shard);
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            throw new SafetensorsException(where + ", which is missing from " + dir);
        }
        if (!Files.exists(path)) {
            throw new SafetensorsException(where + ", a symbolic link to a missing file");
        }
        // A symbolic link placed in the directory by whoever made it is trusted: the Hugging Face hub
        // cache links every shard of a snapshot into ../../blobs. Traversal through the index's own
        // text is what the name check above rules out.
        Path real = realPath(indexFile, path);
        if (!Files.isRegularFile(real)) {
            throw new SafetensorsException(where + ", which is not a regular file");
        }
        return path;
    }

    private static Path realPath(Path indexFile, Path path) {
        try {
            return path.toRealPath();
        } catch (IOException ex) {
            throw new SafetensorsException(indexFile + ": cannot resolve " + path + ": " + ex, ex);
        }
    }
}

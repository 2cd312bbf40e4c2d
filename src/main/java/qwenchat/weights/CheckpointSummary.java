package qwenchat.weights;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Per-family totals of a checkpoint, for logs and the CLI. A family is the tensor name with the
 * layer index replaced by {@code *}: {@code model.layers.*.mlp.up_proj.weight}.
 *
 * @param families family name to its totals, sorted by name
 * @param dtypes   dtype to number of tensors stored in it
 */
public record CheckpointSummary(Map<String, Family> families, long tensorCount, long totalBytes,
                                long totalElements, Map<DType, Long> dtypes) {

    public CheckpointSummary {
        families = java.util.Collections.unmodifiableMap(new TreeMap<>(families));
        dtypes = java.util.Collections.unmodifiableMap(new TreeMap<>(dtypes));
    }

    /** One family: how many tensors, their bytes and elements, the dtypes they use. */
    public record Family(int count, long bytes, long elements, List<DType> dtypes) {
        public Family {
            dtypes = List.copyOf(dtypes);
        }
    }

    static CheckpointSummary of(Collection<TensorInfo> tensors) {
        Map<String, List<TensorInfo>> byFamily = tensors.stream()
                .collect(Collectors.groupingBy(t -> familyOf(t.name())));
        Map<String, Family> families = new TreeMap<>();
        byFamily.forEach((name, list) -> families.put(name, new Family(list.size(),
                list.stream().mapToLong(TensorInfo::byteLength).sum(),
                list.stream().mapToLong(TensorInfo::elementCount).sum(),
                list.stream().map(TensorInfo::dtype).distinct().sorted().toList())));
        Map<DType, Long> dtypes = tensors.stream().collect(Collectors.groupingBy(TensorInfo::dtype, Collectors.counting()));
        return new CheckpointSummary(families, tensors.size(),
                tensors.stream().mapToLong(TensorInfo::byteLength).sum(),
                tensors.stream().mapToLong(TensorInfo::elementCount).sum(), dtypes);
    }

    static String familyOf(String name) {
        return name.replaceFirst("^model\\.layers\\.\\d+\\.", "model.layers.*.");
    }
}

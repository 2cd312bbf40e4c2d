package qwenchat.engine.placement;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * The {@code qwen.gpus} setting: which GPUs the model is split across, in stage order. Ordinals
 * count the devices this process sees (after {@code CUDA_VISIBLE_DEVICES} or a container's device
 * list), as CUDA numbers them.
 *
 * @param ordinals the listed devices; empty means every visible one
 */
public record GpuSelection(List<Integer> ordinals) {

    public static final GpuSelection ALL = new GpuSelection(List.of());

    public GpuSelection {
        ordinals = List.copyOf(ordinals);
    }

    /**
     * Reads {@code "0,1"}; blank or {@code all} means every visible GPU.
     *
     * @throws IllegalArgumentException naming the setting's value and the bad entry: not a number,
     *     negative, or listed twice
     */
    public static GpuSelection parse(String value) {
        if (value == null || value.isBlank() || value.trim().equalsIgnoreCase("all")) return ALL;
        Set<Integer> seen = new LinkedHashSet<>();
        for (String part : value.split(",", -1)) {
            String p = part.trim();
            int ordinal;
            try {
                ordinal = Integer.parseInt(p);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(bad(value, "'" + p + "' is not a device ordinal"));
            }
            if (ordinal < 0) throw new IllegalArgumentException(bad(value, "device ordinal " + ordinal + " is negative"));
            if (!seen.add(ordinal)) throw new IllegalArgumentException(bad(value, "GPU " + ordinal + " is listed twice"));
        }
        return new GpuSelection(new ArrayList<>(seen));
    }

    /**
     * The ordinals to use when {@code visible} GPUs are present.
     *
     * @throws IllegalArgumentException naming the setting and the count when a listed GPU is not visible
     */
    public List<Integer> resolve(int visible) {
        if (visible < 1) throw new IllegalArgumentException("qwen.gpus: no GPU is visible to this process");
        if (ordinals.isEmpty()) return IntStream.range(0, visible).boxed().toList();
        for (int o : ordinals) {
            if (o >= visible) {
                throw new IllegalArgumentException(bad(text(), "GPU " + o + " is not visible: this process sees "
                        + visible + " GPU" + (visible == 1 ? " (ordinal 0)" : "s (ordinals 0-" + (visible - 1) + ")")));
            }
        }
        return ordinals;
    }

    /** The setting as it would be written: {@code all} or the ordinals separated by commas. */
    public String text() {
        if (ordinals.isEmpty()) return "all";
        return String.join(",", ordinals.stream().map(String::valueOf).toList());
    }

    private static String bad(String value, String why) {
        return "qwen.gpus='" + value + "' is invalid: " + why + "; expected device ordinals such as 0,1 or all";
    }
}

package qwenchat.lab;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * A finished lab run: both continuations and the measurements, in the shape the page shows and
 * the JSON export carries.
 *
 * @param id the run's handle for the export endpoints
 * @param model the served model's name
 * @param demo whether the model is the demo's random weights (its numbers mean nothing)
 * @param promptTokens tokens of the templated prompt; the probes measured its last position
 */
public record LabResult(String id, String model, boolean demo, LabRequest request, int promptTokens,
        Continuation live, Continuation ablated, LabMeasurements measurements, List<String> liveTop1Text,
        List<String> ablatedTop1Text) {

    /** One greedy continuation: its token ids and text. */
    public record Continuation(int[] tokens, String text) {
    }

    /** Index of the first generated token where the two continuations differ; -1 when none does. */
    public int firstDivergence() {
        int n = Math.min(live.tokens().length, ablated.tokens().length);
        for (int i = 0; i < n; i++) if (live.tokens()[i] != ablated.tokens()[i]) return i;
        return live.tokens().length == ablated.tokens().length ? -1 : n;
    }

    /** Top-1 token texts per layer from ids, with {@code decode} turning one id into text. */
    static List<String> texts(int[] ids, IntFunction<String> decode) {
        return java.util.Arrays.stream(ids).mapToObj(decode).toList();
    }

    /** The JSON export (and the page's data): every measurement with its definition's name. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("model", model);
        m.put("demoWeights", demo);
        Map<String, Object> ablation = new LinkedHashMap<>();
        ablation.put("projections", request.projections());
        ablation.put("fromLayer", request.fromLayer());
        ablation.put("toLayer", request.toLayer());
        m.put("ablation", ablation);
        m.put("prompt", request.prompt());
        m.put("promptTokens", promptTokens);
        m.put("maxTokens", request.maxTokens());
        m.put("layers", measurements.layers());
        m.put("heads", measurements.heads());
        m.put("live", Map.of("tokens", live.tokens(), "text", live.text()));
        m.put("ablated", Map.of("tokens", ablated.tokens(), "text", ablated.text()));
        m.put("firstDivergence", firstDivergence());
        m.put("logitLensKl", measurements.klPerLayer());
        m.put("logitLensTop1", Map.of("live", liveTop1Text, "ablated", ablatedTop1Text));
        m.put("attentionEntropy", Map.of("live", measurements.liveEntropy(), "ablated", measurements.ablatedEntropy()));
        m.put("sinkMass", Map.of("live", measurements.liveSinkMass(), "ablated", measurements.ablatedSinkMass()));
        return m;
    }

    /**
     * The CSV export: one row per (layer, head) with both runs' attention entropy and sink mass, and
     * the layer's logit-lens KL repeated on each of its heads' rows.
     */
    public String toCsv() {
        StringBuilder sb = new StringBuilder("layer,head,kl_live_ablated,entropy_live,entropy_ablated,sink_mass_live,"
                + "sink_mass_ablated\n");
        LabMeasurements x = measurements;
        for (int l = 0; l < x.layers(); l++) {
            for (int h = 0; h < x.heads(); h++) {
                sb.append(l).append(',').append(h).append(',').append(x.klPerLayer()[l]).append(',')
                        .append(x.liveEntropy()[l][h]).append(',').append(x.ablatedEntropy()[l][h]).append(',')
                        .append(x.liveSinkMass()[l][h]).append(',').append(x.ablatedSinkMass()[l][h]).append('\n');
            }
        }
        return sb.toString();
    }
}

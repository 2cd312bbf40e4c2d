package qwenchat.engine;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * One committed reference checkpoint and what transformers computed on it
 * (tools/reference/make_references.py): the oracle data for both engines' parity tests.
 */
public record ReferenceData(Path dir, float[] invFreq, double attentionScaling, List<Prompt> prompts) {

    public static final List<String> NAMES = List.of("tiny-untied-hd64-g2", "tiny-tied-hd128-g3", "tiny-yarn-f4");

    public record Prompt(int[] ids, float[] lastLogits, int[] topIds, float[] topLogprobs, int[] argmax, int[] greedy,
            int[] greedyNoBias) {
    }

    public static ReferenceData load(String name) {
        try {
            Path dir = Path.of(ReferenceData.class.getResource("/reference/" + name).toURI());
            JsonNode root = JsonMapper.builder().build().readTree(Files.readString(dir.resolve("references.json")));
            List<Prompt> prompts = new ArrayList<>();
            for (JsonNode p : root.get("prompts")) {
                prompts.add(new Prompt(ints(p.get("ids")), floats(p.get("last_logits")), ints(p.get("top_ids")),
                        floats(p.get("top_logprobs")), ints(p.get("argmax")), ints(p.get("greedy")),
                        ints(p.get("greedy_no_bias"))));
            }
            return new ReferenceData(dir, floats(root.get("inv_freq")), root.get("attention_scaling").asDouble(),
                    prompts);
        } catch (URISyntaxException | java.io.IOException e) {
            throw new IllegalStateException("cannot read reference " + name, e);
        }
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    static float[] floats(JsonNode a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) a.get(i).asDouble();
        return out;
    }

    /** {@code ||got - want|| / ||want||}, accumulated in double. */
    public static double relativeL2(float[] a, float[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < b.length; i++) {
            num += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }
}

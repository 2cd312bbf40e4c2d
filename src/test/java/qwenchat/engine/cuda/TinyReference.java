package qwenchat.engine.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** A committed tiny checkpoint under /reference/NAME with what transformers computed on it. */
record TinyReference(Path dir, List<Prompt> prompts) {
    static final String[] NAMES = {"tiny-untied-hd64-g2", "tiny-tied-hd128-g3", "tiny-yarn-f4"};

    record Prompt(int[] ids, float[] lastLogits, int[] topIds, float[] topLogprobs, int[] argmax, int[] greedy) {
    }

    static TinyReference load(String name) {
        try {
            Path dir = Path.of(TinyReference.class.getResource("/reference/" + name).toURI());
            JsonNode root = JsonMapper.builder().build().readTree(Files.readString(dir.resolve("references.json")));
            List<Prompt> prompts = new ArrayList<>();
            for (JsonNode p : root.get("prompts")) {
                prompts.add(new Prompt(ints(p.get("ids")), floats(p.get("last_logits")), ints(p.get("top_ids")),
                        floats(p.get("top_logprobs")), ints(p.get("argmax")), ints(p.get("greedy"))));
            }
            return new TinyReference(dir, prompts);
        } catch (Exception e) {
            throw new IllegalStateException("cannot read reference " + name + ": " + e, e);
        }
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    private static float[] floats(JsonNode a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) a.get(i).asDouble();
        return out;
    }

    static double relativeL2(float[] a, float[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < b.length; i++) {
            num += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }

    static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
        return best;
    }
}

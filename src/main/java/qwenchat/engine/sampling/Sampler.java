package qwenchat.engine.sampling;

import java.util.Arrays;
import java.util.BitSet;
import java.util.Map;

/**
 * Picks the next token from raw logits with {@link SamplingParams}, in the documented order:
 * repetition penalty (prompt and generated ids, as transformers), presence and frequency penalties
 * (generated ids, as OpenAI), then temperature 0 means argmax; otherwise temperature, top-k, top-p,
 * min-p, and a draw with {@link CounterUniform}. The reported log-probabilities are of the raw
 * logits. Ties in argmax and top lists go to the lower id.
 *
 * <p>The draw: with the surviving ids' probabilities {@code p} (softmax of the processed logits,
 * in double), it picks the first id in ascending id order at which the running sum exceeds
 * {@code u * sum(p)}, where {@code u = CounterUniform.uniform(seed, n)} and {@code n} is the index of
 * the generated token (0 for the first token after the prompt).
 */
public final class Sampler {

    private Sampler() {
    }

    public static SampledToken sample(int sequence, float[] logits, SamplingParams p, TokenHistory history,
            int topLogprobs) {
        return sample(sequence, logits, p, history, topLogprobs, null);
    }

    /**
     * As {@link #sample(int, float[], SamplingParams, TokenHistory, int)}, with the pick restricted to
     * {@code allowed} (null: any id): the other ids' logits become -inf before penalties, so top-k,
     * top-p and the draw see only allowed ids, and the reported log-probabilities are those of the
     * masked distribution (-inf for disallowed ids), which is what the CUDA engine reports too.
     */
    public static SampledToken sample(int sequence, float[] raw, SamplingParams p, TokenHistory history,
            int topLogprobs, BitSet allowed) {
        float[] logits = allowed == null ? raw : masked(raw, allowed);
        double lse = logSumExp(logits);
        int token = pick(logits, p, history);
        int[] topIds = topIds(logits, topLogprobs);
        float[] topLp = new float[topIds.length];
        for (int i = 0; i < topIds.length; i++) topLp[i] = (float) (logits[topIds[i]] - lse);
        return new SampledToken(sequence, token, (float) (logits[token] - lse), topIds, topLp);
    }

    /** A copy of {@code logits} with every id outside {@code allowed} at -inf. */
    public static float[] masked(float[] logits, BitSet allowed) {
        float[] l = new float[logits.length];
        Arrays.fill(l, Float.NEGATIVE_INFINITY);
        for (int id = allowed.nextSetBit(0); id >= 0 && id < l.length; id = allowed.nextSetBit(id + 1)) l[id] = logits[id];
        return l;
    }

    /** The chosen id, without log-probabilities. */
    public static int pick(float[] logits, SamplingParams p, TokenHistory history) {
        boolean penalties = p.repetitionPenalty() != 1 || p.presencePenalty() != 0 || p.frequencyPenalty() != 0;
        if (p.greedy() && !penalties) return argmax(logits);
        float[] l = logits.clone();
        applyPenalties(l, p, history);
        if (p.greedy()) return argmax(l);
        applyTemperature(l, p.temperature());
        applyTopK(l, p.topK());
        int alive = 0;
        for (float v : l) if (v != Float.NEGATIVE_INFINITY) alive++;
        int[] ids = new int[alive];
        float[] kept = new float[alive];
        for (int i = 0, j = 0; i < l.length; i++) {
            if (l[i] != Float.NEGATIVE_INFINITY) {
                ids[j] = i;
                kept[j++] = l[i];
            }
        }
        return drawAmong(ids, kept, p, history.generatedCount());
    }

    /**
     * Top-p, min-p and the seeded draw over the ids that are still possible, given in ascending
     * order with their processed logits (penalties, temperature and top-k already applied). Every
     * other id has probability 0, so the sums, the ranking (ties by id) and the draw's walk in id
     * order are exactly those over the whole vocabulary: the same token, for the cost of the few
     * survivors instead of several passes over 152K logits per token.
     *
     * @param counter the draw's counter: tokens generated so far
     */
    public static int drawAmong(int[] ascendingIds, float[] logits, SamplingParams p, int counter) {
        if (ascendingIds.length != logits.length) {
            throw new IllegalArgumentException(ascendingIds.length + " ids for " + logits.length + " logits");
        }
        for (int i = 1; i < ascendingIds.length; i++) {
            if (ascendingIds[i] <= ascendingIds[i - 1]) throw new IllegalArgumentException("ids must ascend");
        }
        if (ascendingIds.length == 0) throw new IllegalArgumentException("no id left to draw from");
        float[] l = logits.clone();
        applyTopP(l, p.topP());
        applyMinP(l, p.minP());
        return ascendingIds[draw(l, CounterUniform.uniform(p.seed(), counter))];
    }

    static void applyPenalties(float[] l, SamplingParams p, TokenHistory h) {
        if (p.repetitionPenalty() != 1) {
            float penalty = (float) p.repetitionPenalty();
            for (int id = h.seen().nextSetBit(0); id >= 0 && id < l.length; id = h.seen().nextSetBit(id + 1)) {
                l[id] = l[id] < 0 ? l[id] * penalty : l[id] / penalty;
            }
        }
        if (p.presencePenalty() != 0 || p.frequencyPenalty() != 0) {
            for (Map.Entry<Integer, Integer> e : h.generatedCounts().entrySet()) {
                int id = e.getKey();
                if (id < l.length) {
                    l[id] -= (float) (e.getValue() * p.frequencyPenalty() + p.presencePenalty());
                }
            }
        }
    }

    static void applyTemperature(float[] l, double temperature) {
        float t = (float) temperature;
        if (t == 1f) return;
        for (int i = 0; i < l.length; i++) l[i] /= t;
    }

    /** Keeps every id whose logit is at least the k-th largest (ties at the boundary survive, as in transformers). */
    static void applyTopK(float[] l, int k) {
        if (k <= 0 || k >= l.length) return;
        float threshold;
        if (k <= 256) {
            // one pass with a small insertion list beats sorting 152K logits every token
            threshold = l[topIds(l, k)[k - 1]];
        } else {
            float[] sorted = l.clone();
            Arrays.sort(sorted);
            threshold = sorted[sorted.length - k];
        }
        for (int i = 0; i < l.length; i++) if (l[i] < threshold) l[i] = Float.NEGATIVE_INFINITY;
    }

    /**
     * Keeps the smallest set of most likely ids whose probability sum reaches {@code topP}: an id
     * survives when the mass of the ids ranked above it is below {@code topP}; the best always does.
     */
    static void applyTopP(float[] l, double topP) {
        if (topP >= 1) return;
        int[] order = descending(l);
        double[] prob = softmax(l);
        double above = 0;
        boolean cut = false;
        for (int id : order) {
            if (cut) {
                l[id] = Float.NEGATIVE_INFINITY;
                continue;
            }
            if (above >= topP && prob[id] > 0) {
                cut = true;
                l[id] = Float.NEGATIVE_INFINITY;
                continue;
            }
            above += prob[id];
        }
    }

    /** Drops ids whose probability is below {@code minP} times the largest probability. */
    static void applyMinP(float[] l, double minP) {
        if (minP <= 0) return;
        double[] prob = softmax(l);
        double max = 0;
        for (double v : prob) max = Math.max(max, v);
        double threshold = minP * max;
        for (int i = 0; i < l.length; i++) if (prob[i] < threshold) l[i] = Float.NEGATIVE_INFINITY;
    }

    static int draw(float[] l, double u) {
        double[] prob = softmax(l);
        double total = 0;
        for (double v : prob) total += v;
        double target = u * total;
        double run = 0;
        int last = -1;
        for (int i = 0; i < prob.length; i++) {
            if (prob[i] <= 0) continue;
            run += prob[i];
            last = i;
            if (run > target) return i;
        }
        return last;
    }

    /** Unnormalised-safe softmax in double; -inf logits get probability 0. */
    static double[] softmax(float[] l) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : l) max = Math.max(max, v);
        double[] p = new double[l.length];
        double sum = 0;
        for (int i = 0; i < l.length; i++) {
            p[i] = l[i] == Float.NEGATIVE_INFINITY ? 0 : Math.exp((double) l[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return p;
    }

    static double logSumExp(float[] l) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : l) max = Math.max(max, v);
        double sum = 0;
        for (float v : l) sum += Math.exp((double) v - max);
        return max + Math.log(sum);
    }

    public static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
        return best;
    }

    /** The {@code k} ids with the largest logits, best first (lower id first among equals). */
    public static int[] topIds(float[] l, int k) {
        k = Math.min(k, l.length);
        int[] top = new int[k];
        if (k == 0) return top;
        int size = 0;
        for (int i = 0; i < l.length; i++) {
            if (size == k && !(l[i] > l[top[k - 1]])) continue;
            int pos = size < k ? size++ : k - 1;
            while (pos > 0 && l[i] > l[top[pos - 1]]) {
                top[pos] = top[pos - 1];
                pos--;
            }
            top[pos] = i;
        }
        return top;
    }

    /** Ids still alive (logit above -inf), most likely first. */
    private static int[] descending(float[] l) {
        int alive = 0;
        for (float v : l) if (v != Float.NEGATIVE_INFINITY) alive++;
        Integer[] idx = new Integer[alive];
        int j = 0;
        for (int i = 0; i < l.length; i++) if (l[i] != Float.NEGATIVE_INFINITY) idx[j++] = i;
        Arrays.sort(idx, (a, b) -> l[a] != l[b] ? Float.compare(l[b], l[a]) : Integer.compare(a, b));
        int[] out = new int[idx.length];
        for (int i = 0; i < out.length; i++) out[i] = idx[i];
        return out;
    }
}

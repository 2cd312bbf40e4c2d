package qwenchat.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import org.junit.jupiter.api.Test;

/** Each stage of the pipeline on tiny logits whose outcome is worked out by hand, plus draw statistics. */
class SamplerTest {

    static final float NEG = Float.NEGATIVE_INFINITY;

    static SamplingParams params(double t, int k, double p, double minP, double rep, double pres, double freq, long seed) {
        return new SamplingParams(t, k, p, minP, rep, pres, freq, seed);
    }

    /** Logits whose softmax is exactly {@code probs} (up to rounding). */
    static float[] logitsOf(double... probs) {
        float[] l = new float[probs.length];
        for (int i = 0; i < l.length; i++) l[i] = (float) Math.log(probs[i]);
        return l;
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOfPromptAndGeneratedIds() {
        float[] l = {2f, -1f, 0.5f, 3f, 1f};
        TokenHistory h = new TokenHistory();
        h.addPrompt(new int[] {0, 1, 1});
        h.addGenerated(4);
        Sampler.applyPenalties(l, params(1, 0, 1, 0, 2.0, 0, 0, 0), h);
        assertArrayEquals(new float[] {1f, -2f, 0.5f, 3f, 0.5f}, l);
    }

    @Test
    void presenceAndFrequencyPenaltiesCountOnlyGeneratedIds() {
        float[] l = {1f, 1f, 1f, 1f};
        TokenHistory h = new TokenHistory();
        h.addPrompt(new int[] {0, 0, 0});
        h.addGenerated(2);
        h.addGenerated(2);
        h.addGenerated(3);
        Sampler.applyPenalties(l, params(1, 0, 1, 0, 1, 0.5, 0.25, 0), h);
        // id 2: 1 - (2*0.25 + 0.5) = 0; id 3: 1 - (0.25 + 0.5) = 0.25; prompt id 0 untouched
        assertArrayEquals(new float[] {1f, 1f, 0f, 0.25f}, l);
    }

    @Test
    void temperatureDividesLogits() {
        float[] l = {2f, 4f, -1f};
        Sampler.applyTemperature(l, 2.0);
        assertArrayEquals(new float[] {1f, 2f, -0.5f}, l);
    }

    @Test
    void topKKeepsTheKLargestAndTiesAtTheBoundary() {
        float[] l = {1f, 3f, 2f, 3f, 0f};
        Sampler.applyTopK(l, 3);
        assertArrayEquals(new float[] {NEG, 3f, 2f, 3f, NEG}, l);
        float[] ties = {1f, 3f, 3f, 3f};
        Sampler.applyTopK(ties, 2);
        assertArrayEquals(new float[] {NEG, 3f, 3f, 3f}, ties);
    }

    @Test
    void topKAgreesBetweenTheSelectionAndTheSortingPaths() {
        java.util.Random r = new java.util.Random(3);
        float[] l = new float[5000];
        for (int i = 0; i < l.length; i++) l[i] = (float) Math.floor(r.nextGaussian() * 20) / 4; // many ties
        for (int k : new int[] {1, 20, 256, 257, 1000}) {
            float[] a = l.clone();
            Sampler.applyTopK(a, k);
            float[] sorted = l.clone();
            java.util.Arrays.sort(sorted);
            float threshold = sorted[sorted.length - k];
            for (int i = 0; i < l.length; i++) {
                assertEquals(l[i] >= threshold ? l[i] : NEG, a[i], "k " + k + " id " + i);
            }
        }
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        // probabilities by id: 0.15, 0.5, 0.05, 0.3
        float[] a = logitsOf(0.15, 0.5, 0.05, 0.3);
        Sampler.applyTopP(a, 0.75);          // 0.5 + 0.3 = 0.8 >= 0.75
        assertEquals(NEG, a[0]);
        assertEquals(NEG, a[2]);
        assertTrue(a[1] > NEG && a[3] > NEG);
        float[] b = logitsOf(0.15, 0.5, 0.05, 0.3);
        Sampler.applyTopP(b, 0.85);          // needs 0.15 too: 0.95
        assertEquals(NEG, b[2]);
        assertTrue(b[0] > NEG);
        float[] c = logitsOf(0.15, 0.5, 0.05, 0.3);
        Sampler.applyTopP(c, 0.4);           // the best alone already reaches 0.4
        assertArrayEquals(new boolean[] {false, true, false, false}, alive(c));
    }

    @Test
    void minPDropsIdsBelowAFractionOfTheBestProbability() {
        float[] a = logitsOf(0.5, 0.3, 0.15, 0.05);
        Sampler.applyMinP(a, 0.2);           // threshold 0.1
        assertArrayEquals(new boolean[] {true, true, true, false}, alive(a));
        float[] b = logitsOf(0.5, 0.3, 0.15, 0.05);
        Sampler.applyMinP(b, 0.5);           // threshold 0.25
        assertArrayEquals(new boolean[] {true, true, false, false}, alive(b));
    }

    @Test
    void drawWalksCumulativeProbabilitiesInIdOrder() {
        float[] l = logitsOf(0.5, 0.3, 0.15, 0.05);
        assertEquals(0, Sampler.draw(l, 0.0));
        assertEquals(0, Sampler.draw(l, 0.49));
        assertEquals(1, Sampler.draw(l, 0.6));
        assertEquals(2, Sampler.draw(l, 0.9));
        assertEquals(3, Sampler.draw(l, 0.97));
        float[] masked = {NEG, 0f, NEG, 0f};
        assertEquals(1, Sampler.draw(masked, 0.49));
        assertEquals(3, Sampler.draw(masked, 0.51));
    }

    @Test
    void greedyPicksTheArgmaxOfPenalisedLogits() {
        float[] l = {3f, 2.9f, 1f};
        TokenHistory h = new TokenHistory();
        assertEquals(0, Sampler.pick(l, SamplingParams.greedyDecoding(), h));
        h.addPrompt(new int[] {0});
        assertEquals(1, Sampler.pick(l, params(0, 0, 1, 0, 1.2, 0, 0, 0), h)); // 3/1.2 = 2.5 < 2.9
    }

    @Test
    void logprobsAreOfTheRawLogitsWhateverTheProcessing() {
        float[] l = logitsOf(0.5, 0.3, 0.15, 0.05);
        TokenHistory h = new TokenHistory();
        h.addPrompt(new int[] {0});
        SampledToken t = Sampler.sample(7, l, params(0.3, 2, 0.9, 0, 1.5, 0, 0, 42), h, 3);
        assertEquals(7, t.sequence());
        assertEquals(Math.log(t.token() == 0 ? 0.5 : 0.3), t.logprob(), 1e-6);
        assertArrayEquals(new int[] {0, 1, 2}, t.topIds());
        assertArrayEquals(new float[] {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15)},
                t.topLogprobs(), 1e-6f);
    }

    @Test
    void drawFrequenciesOverSeedsFollowTheFilteredDistribution() {
        // logits of 0.4, 0.3, 0.2, 0.1; top-k 3 leaves 4/9, 3/9, 2/9; top-p 0.7 then drops id 2
        // (the mass above it is 7/9 >= 0.7), leaving 4/7 and 3/7.
        float[] l = logitsOf(0.4, 0.3, 0.2, 0.1);
        int draws = 20000;
        int[] counts = new int[4];
        for (int seed = 0; seed < draws; seed++) {
            SamplingParams p = params(1, 3, 0.7, 0, 1, 0, 0, seed * 7919L + 13);
            counts[Sampler.pick(l, p, new TokenHistory())]++;
        }
        assertEquals(0, counts[2] + counts[3], "filtered ids were drawn");
        assertTrue(chiSquare(counts, new double[] {4 / 7.0, 3 / 7.0, 0, 0}, draws) < 10.83, // 1 dof, p = 0.001
                "counts " + java.util.Arrays.toString(counts));
    }

    @Test
    void drawFrequenciesOverTheCounterFollowTheDistribution() {
        float[] l = logitsOf(0.5, 0.3, 0.15, 0.05);
        TokenHistory h = new TokenHistory();
        int draws = 20000;
        int[] counts = new int[4];
        SamplingParams p = params(1, 0, 1, 0, 1, 0, 0, 12345);
        for (int n = 0; n < draws; n++) {
            counts[Sampler.pick(l, p, h)]++;
            h.addGenerated(9); // advances the counter; id 9 is outside the logits and changes nothing
        }
        assertTrue(chiSquare(counts, new double[] {0.5, 0.3, 0.15, 0.05}, draws) < 16.27, // 3 dof, p = 0.001
                "counts " + java.util.Arrays.toString(counts));
    }

    @Test
    void sameSeedAndCounterGiveTheSameToken() {
        float[] l = logitsOf(0.25, 0.25, 0.25, 0.25);
        SamplingParams p = params(1, 0, 1, 0, 1, 0, 0, 99);
        int[] first = new int[50];
        int[] again = new int[50];
        TokenHistory h1 = new TokenHistory();
        TokenHistory h2 = new TokenHistory();
        for (int i = 0; i < 50; i++) {
            first[i] = Sampler.pick(l, p, h1);
            h1.addGenerated(first[i]);
            again[i] = Sampler.pick(l, p, h2);
            h2.addGenerated(again[i]);
        }
        assertArrayEquals(first, again);
    }

    @Test
    void counterUniformMatchesAnUnsignedArbitraryPrecisionRendering() {
        BigInteger mask = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
        for (long seed : new long[] {0, 1, -1, 42, Long.MIN_VALUE, 0x123456789ABCDEFL}) {
            for (long n : new long[] {0, 1, 2, 1000, 1L << 40}) {
                BigInteger z = mixUnsigned(mixUnsigned(unsigned(seed), mask)
                        .add(BigInteger.valueOf(n + 1).multiply(new BigInteger("9E3779B97F4A7C15", 16)))
                        .and(mask), mask);
                double expected = z.shiftRight(11).doubleValue() * Math.pow(2, -53);
                assertEquals(expected, CounterUniform.uniform(seed, n), 0.0, "seed " + seed + " n " + n);
                assertTrue(expected >= 0 && expected < 1);
            }
        }
    }

    private static BigInteger unsigned(long v) {
        return new BigInteger(Long.toUnsignedString(v));
    }

    private static BigInteger mixUnsigned(BigInteger z, BigInteger mask) {
        z = z.xor(z.shiftRight(30)).multiply(new BigInteger("BF58476D1CE4E5B9", 16)).and(mask);
        z = z.xor(z.shiftRight(27)).multiply(new BigInteger("94D049BB133111EB", 16)).and(mask);
        return z.xor(z.shiftRight(31));
    }

    private static boolean[] alive(float[] l) {
        boolean[] a = new boolean[l.length];
        for (int i = 0; i < l.length; i++) a[i] = l[i] != NEG;
        return a;
    }

    private static double chiSquare(int[] counts, double[] probs, int total) {
        double chi = 0;
        for (int i = 0; i < counts.length; i++) {
            if (probs[i] == 0) continue;
            double e = probs[i] * total;
            chi += (counts[i] - e) * (counts[i] - e) / e;
        }
        return chi;
    }

    @Test
    void aTemperatureTooSmallToDivideBySamplesGreedilyWithFiniteLogprobs() {
        float[] l = {1.5f, 4f, -2f, 3.9f};
        for (double t : new double[] {1e-40, Double.MIN_VALUE, 1e-8, SamplingParams.GREEDY_BELOW / 2}) {
            SamplingParams p = params(t, 0, 1, 0, 1, 0, 0, 7);
            assertTrue(p.greedy(), "temperature " + t + " is greedy");
            SampledToken s = Sampler.sample(0, l.clone(), p, new TokenHistory(), 2);
            assertEquals(1, s.token(), "temperature " + t);
            assertTrue(Float.isFinite(s.logprob()) && s.logprob() < 0 && s.logprob() > -1, "logprob " + s.logprob());
            assertEquals(1, Sampler.pick(l.clone(), p, new TokenHistory()));
        }
        assertTrue(!params(SamplingParams.GREEDY_BELOW, 0, 1, 0, 1, 0, 0, 7).greedy(), "the threshold itself samples");
    }

    @Test
    void anAllowedSetKeepsEveryPickInsideItGreedyOrSampledWithPenaltiesAndTopK() {
        float[] l = {5f, 4f, 3f, 2f, 1f, 0f};
        java.util.BitSet allowed = new java.util.BitSet();
        allowed.set(2);
        allowed.set(4);
        assertEquals(2, Sampler.sample(0, l, SamplingParams.greedyDecoding(), new TokenHistory(), 0, allowed).token());
        for (long seed = 0; seed < 200; seed++) {
            // top_k 2 over the raw logits would keep ids 0 and 1; the mask comes first, so it keeps 2 and 4.
            int t = Sampler.sample(0, l, params(1.5, 2, 0.95, 0, 1.3, 0.5, 0.5, seed), new TokenHistory(), 3, allowed).token();
            assertTrue(t == 2 || t == 4, "picked " + t);
        }
        var s = Sampler.sample(0, l, SamplingParams.greedyDecoding(), new TokenHistory(), 3, allowed);
        assertEquals(Float.NEGATIVE_INFINITY, s.topLogprobs()[2], "a masked id reports -inf");
        assertEquals(0.0, Math.exp(s.topLogprobs()[0]) + Math.exp(s.topLogprobs()[1]) - 1, 1e-5,
                "log-probabilities are of the masked distribution");
    }

    @Test
    void drawingAmongTheTopKSurvivorsPicksWhatTheWholeVocabularyPicks() {
        java.util.Random r = new java.util.Random(42);
        for (int trial = 0; trial < 300; trial++) {
            float[] logits = new float[2000];
            for (int i = 0; i < logits.length; i++) logits[i] = (float) (r.nextGaussian() * 3);
            // Some exact ties, so the ranking's tie-break by id is exercised.
            for (int i = 0; i < 20; i++) logits[r.nextInt(logits.length)] = logits[r.nextInt(logits.length)];
            TokenHistory h = new TokenHistory();
            for (int i = 0; i < r.nextInt(5); i++) h.addGenerated(r.nextInt(logits.length));
            double topP = trial % 3 == 0 ? 1.0 : 0.5 + 0.5 * r.nextDouble();
            double minP = trial % 4 == 0 ? 0.05 : 0;
            SamplingParams p = new SamplingParams(0.7, 1 + r.nextInt(60), topP, minP, 1, 0, 0, r.nextLong());
            // What the GPU hands the host: the top-k survivors of the tempered logits, in ascending id order.
            float[] l = logits.clone();
            Sampler.applyTemperature(l, p.temperature());
            Sampler.applyTopK(l, p.topK());
            // The reference: top-p, min-p and the draw over the whole vocabulary, -inf for the rest.
            float[] full = l.clone();
            Sampler.applyTopP(full, p.topP());
            Sampler.applyMinP(full, p.minP());
            int whole = Sampler.draw(full, CounterUniform.uniform(p.seed(), h.generatedCount()));
            assertEquals(whole, Sampler.pick(logits, p, h), "pick, trial " + trial);
            int alive = 0;
            for (float v : l) if (v != Float.NEGATIVE_INFINITY) alive++;
            int[] ids = new int[alive];
            float[] vals = new float[alive];
            for (int i = 0, j = 0; i < l.length; i++) if (l[i] != Float.NEGATIVE_INFINITY) { ids[j] = i; vals[j++] = l[i]; }
            SamplingParams rest = new SamplingParams(1, 0, p.topP(), p.minP(), 1, 0, 0, p.seed());
            assertEquals(whole, Sampler.drawAmong(ids, vals, rest, h.generatedCount()), "trial " + trial);
        }
    }
}

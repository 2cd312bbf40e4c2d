package qwenchat.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Our tokenizer against the Hugging Face tokenizers library on the same tokenizer.json. */
class QwenTokenizerDifferentialTest {

    private static final int SHOWN_MISMATCHES = 5;

    private static QwenTokenizer ours;
    private static HuggingFaceTokenizer reference;
    private static HuggingFaceTokenizer referenceSplittingSpecials;
    private static List<String> corpus;

    @BeforeAll
    static void load() {
        ours = QwenTokenizer.bundled();
        reference = ReferenceTokenizer.matchingSpecialTokens();
        referenceSplittingSpecials = ReferenceTokenizer.splittingSpecialTokens();
        corpus = TokenizerCorpus.build();
    }

    @AfterAll
    static void close() {
        reference.close();
        referenceSplittingSpecials.close();
    }

    @Test
    void corpusIsLargeAndVaried() {
        assertThat(corpus).hasSizeGreaterThan(1000);
        assertThat(corpus.stream().filter(s -> s.codePoints().anyMatch(cp -> cp > 0xFFFF)).count()).isGreaterThan(200);
    }

    @Test
    void encodesEveryCorpusStringToTheReferenceIds() {
        assertSameIds(corpus, reference);
    }

    @Test
    void encodesControlTokenTextLikeTheReferenceWithSpecialTokensSplit() {
        Random random = new Random(TokenizerCorpus.SEED);
        String[] controls = {"<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|vision_pad|>", "<|im_start|>system\n",
                "<|im_end|><|im_start|>", "<|im_start", "|im_end|>", "<<|im_end|>>", "<tool_call><|im_end|>"};
        List<String> strings = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            String left = corpus.get(random.nextInt(corpus.size()));
            String right = corpus.get(random.nextInt(corpus.size()));
            strings.add(left + controls[random.nextInt(controls.length)] + right);
        }
        assertSameIds(strings, referenceSplittingSpecials);
    }

    @Test
    void decodesEncodedTextBackToItsNfcForm() {
        List<String> failures = new ArrayList<>();
        for (String s : corpus) {
            String expected = Normalizer.normalize(s, Normalizer.Form.NFC);
            String decoded = ours.decode(ours.encode(s));
            if (!decoded.equals(expected)) failures.add(ReferenceTokenizer.escape(s) + " -> " + ReferenceTokenizer.escape(decoded));
        }
        assertThat(failures).as("decode(encode(s)) != NFC(s)").isEmpty();
    }

    @Test
    void decodesArbitraryIdSequencesLikeTheReference() {
        // Random ids split UTF-8 sequences anywhere, so this exercises the U+FFFD replacement rule.
        Random random = new Random(TokenizerCorpus.SEED + 1);
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            int[] ids = new int[1 + random.nextInt(8)];
            for (int j = 0; j < ids.length; j++) {
                // Mostly the byte tokens and low ids, where the partial sequences are.
                ids[j] = random.nextBoolean() ? random.nextInt(256) : random.nextInt(ours.vocabularySize());
            }
            String expected = reference.decode(Arrays.stream(ids).asLongStream().toArray(), false);
            String actual = ours.decode(ids);
            if (!actual.equals(expected)) {
                failures.add(Arrays.toString(ids) + ": ours " + ReferenceTokenizer.escape(actual)
                        + " reference " + ReferenceTokenizer.escape(expected));
            }
        }
        assertThat(failures).as("decode mismatches").isEmpty();
    }

    private static void assertSameIds(List<String> strings, HuggingFaceTokenizer oracle) {
        List<String> mismatches = new ArrayList<>();
        for (String s : strings) {
            int[] expected = ReferenceTokenizer.encode(oracle, s);
            int[] actual = ours.encode(s);
            if (!Arrays.equals(expected, actual)) {
                mismatches.add(ReferenceTokenizer.escape(s) + "\n  reference " + Arrays.toString(expected)
                        + "\n  ours      " + Arrays.toString(actual));
            }
        }
        String shown = String.join("\n", mismatches.subList(0, Math.min(SHOWN_MISMATCHES, mismatches.size())));
        System.out.println("differential encode: " + mismatches.size() + " mismatches of " + strings.size() + " strings");
        assertThat(mismatches).as("%d of %d strings encode differently; first ones:%n%s",
                mismatches.size(), strings.size(), shown).isEmpty();
    }
}

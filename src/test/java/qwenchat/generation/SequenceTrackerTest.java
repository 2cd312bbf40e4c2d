package qwenchat.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import qwenchat.tokenizer.QwenTokenizer;

/** Per-sequence stop logic on the real tokenizer: eos, stop strings across tokens, limits, held-back bytes. */
class SequenceTrackerTest {

    static final QwenTokenizer TOK = QwenTokenizer.bundled();
    static final int EOS = TOK.specialTokenId("<|im_end|>");

    static SequenceTracker tracker(List<String> stops, int maxNew, int context) {
        return new SequenceTracker(TextDecoder.of(TOK), stops, Set.of(EOS), maxNew, context);
    }

    /** Feeds ids as if the prompt held {@code promptLength} tokens; returns the streamed text. */
    static String feed(SequenceTracker t, int promptLength, int... ids) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < ids.length && t.finishReason() == null; i++) out.append(t.accept(ids[i], promptLength + i));
        return out.toString();
    }

    @Test
    void eosEndsWithStopAndIsCountedButNotReturned() {
        int[] hello = TOK.encode("Hello world");
        SequenceTracker t = tracker(List.of(), 100, 1000);
        int[] ids = java.util.Arrays.copyOf(hello, hello.length + 1);
        ids[hello.length] = EOS;
        String streamed = feed(t, 5, ids);
        assertThat(t.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(streamed + t.finish()).isEqualTo("Hello world");
        assertThat(t.ids()).isEqualTo(hello);
        assertThat(t.sampledCount()).isEqualTo(hello.length + 1);
    }

    @Test
    void stopStringSpanningTokensIsCutAndNeverStreamed() {
        int[] ids = TOK.encode("one two three four");
        SequenceTracker t = tracker(List.of("e fo"), 100, 1000);
        String streamed = feed(t, 5, ids);
        assertThat(t.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(streamed).isEqualTo("one two thre");
        assertThat(t.finish()).isEmpty();
        assertThat(t.text()).isEqualTo("one two thre");
    }

    @Test
    void heldBackPrefixIsReleasedWhenNoStopFollows() {
        int[] ids = TOK.encode("abc ab");
        SequenceTracker t = tracker(List.of("abx"), ids.length, 1000);
        String streamed = feed(t, 5, ids);
        assertThat(t.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(streamed).doesNotEndWith("ab");
        assertThat(streamed + t.finish()).isEqualTo("abc ab");
    }

    @Test
    void maxNewTokensAndContextLimitEndWithLength() {
        int[] ids = TOK.encode("a b c d e f g h");
        SequenceTracker byBudget = tracker(List.of(), 3, 1000);
        feed(byBudget, 5, ids);
        assertThat(byBudget.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(byBudget.sampledCount()).isEqualTo(3);

        // Prompt of 5 in a context of 8: sampled tokens 1-3 are fed back at positions 5-7; the 4th,
        // sampled from position 7's logits, would need position 8, so it ends the sequence unfed.
        SequenceTracker byContext = tracker(List.of(), 100, 8);
        feed(byContext, 5, ids);
        assertThat(byContext.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(byContext.sampledCount()).isEqualTo(4);
        assertThatThrownBy(() -> byContext.accept(ids[4], 9)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void splitUtf8CharacterIsHeldUntilComplete() {
        int[] ids = TOK.encode("日本語の文章");
        SequenceTracker t = tracker(List.of(), 100, 1000);
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            String piece = t.accept(ids[i], 5 + i);
            assertThat(piece).doesNotContain("\uFFFD");
            out.append(piece);
        }
        assertThat(out + t.finish()).isEqualTo("日本語の文章");
    }
}

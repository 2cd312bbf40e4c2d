package qwenchat.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class IncrementalDecoderTest {

    private static QwenTokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = QwenTokenizer.bundled();
    }

    @Test
    void streamsEveryCorpusStringWithoutReplacementCharactersAndMatchesWholeDecode() {
        List<String> failures = new ArrayList<>();
        int heldBack = 0;
        for (String s : TokenizerCorpus.build()) {
            int[] ids = tokenizer.encode(s);
            IncrementalDecoder decoder = tokenizer.newIncrementalDecoder();
            StringBuilder streamed = new StringBuilder();
            boolean replacement = false;
            for (int id : ids) {
                String piece = decoder.accept(id);
                if (piece.isEmpty()) heldBack++;
                replacement |= piece.indexOf('\uFFFD') >= 0 && s.indexOf('\uFFFD') < 0;
                streamed.append(piece);
            }
            streamed.append(decoder.finish());
            if (replacement || !streamed.toString().equals(tokenizer.decode(ids))) {
                failures.add(ReferenceTokenizer.escape(s) + " streamed as " + ReferenceTokenizer.escape(streamed.toString()));
            }
        }
        // The corpus must actually split characters across tokens, or this test proves nothing.
        assertThat(heldBack).as("tokens whose bytes were held back").isGreaterThan(1000);
        assertThat(failures).isEmpty();
    }

    @Test
    void holdsBackAnEmojiUntilItsLastByteArrives() {
        byte[] utf8 = "🙂".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        IncrementalDecoder decoder = tokenizer.newIncrementalDecoder();
        assertThat(decoder.accept(byteToken(utf8[0]))).isEmpty();
        assertThat(decoder.accept(byteToken(utf8[1]))).isEmpty();
        assertThat(decoder.accept(byteToken(utf8[2]))).isEmpty();
        assertThat(decoder.accept(byteToken(utf8[3]))).isEqualTo("🙂");
        assertThat(decoder.finish()).isEmpty();
    }

    @Test
    void emitsTextBeforeAnIncompleteCharacterAtOnce() {
        byte[] utf8 = "中".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        IncrementalDecoder decoder = tokenizer.newIncrementalDecoder();
        assertThat(decoder.accept(tokenizer.encode("ok")[0])).isEqualTo("ok");
        assertThat(decoder.accept(byteToken(utf8[0]))).isEmpty();
        assertThat(decoder.accept(byteToken(utf8[1]))).isEmpty();
        assertThat(decoder.accept(byteToken(utf8[2]))).isEqualTo("中");
    }

    @Test
    void flushesAnIncompleteTailAsOneReplacementCharacterLikeDecode() {
        int[] ids = {byteToken((byte) 0xF0), byteToken((byte) 0x9F)};
        IncrementalDecoder decoder = tokenizer.newIncrementalDecoder();
        assertThat(decoder.accept(ids[0]) + decoder.accept(ids[1])).isEmpty();
        assertThat(decoder.finish()).isEqualTo("\uFFFD").isEqualTo(tokenizer.decode(ids));
    }

    @Test
    void emitsBytesThatCanNeverCompleteAtOnceAsReplacementCharacters() {
        IncrementalDecoder decoder = tokenizer.newIncrementalDecoder();
        assertThat(decoder.accept(byteToken((byte) 0x80))).isEqualTo("\uFFFD");
        assertThat(decoder.accept(byteToken((byte) 0xE0))).isEmpty();
        // E0 must be followed by A0..BF: 80 ends the sequence, and both bytes are bad.
        assertThat(decoder.accept(byteToken((byte) 0x80))).isEqualTo("\uFFFD\uFFFD");
        assertThat(decoder.finish()).isEmpty();
    }

    @Test
    void decodesControlTokensToTheirText() {
        IncrementalDecoder decoder = tokenizer.newIncrementalDecoder();
        assertThat(decoder.accept(tokenizer.specialTokenId("<|im_end|>"))).isEqualTo("<|im_end|>");
        assertThat(decoder.accept(tokenizer.specialTokenId("<|endoftext|>"))).isEqualTo("<|endoftext|>");
    }

    /** The id of the token that stands for one raw byte. */
    private static int byteToken(byte b) {
        for (int id = 0; id < tokenizer.vocabularySize(); id++) {
            byte[] bytes = tokenizer.bytesOf(id);
            if (bytes.length == 1 && bytes[0] == b) return id;
        }
        throw new AssertionError("no token for byte " + (b & 0xFF));
    }
}

package qwenchat.tokenizer;

import java.nio.file.Path;

/** Qwen2 byte-level BPE tokenizer, read from tokenizer.json. Thread-safe after construction. */
public final class QwenTokenizer {
    // SKELETON: the tokenizer work fills this in.
    /** Reads {@code dir/tokenizer.json} (and tokenizer_config.json when present). */
    public static QwenTokenizer load(Path dir) { throw new UnsupportedOperationException("TODO"); }
    /** The real Qwen2.5 tokenizer bundled in the jar. */
    public static QwenTokenizer bundled() { throw new UnsupportedOperationException("TODO"); }
    /** Encodes plain text: special-token strings inside it are encoded as literal text. */
    public int[] encode(String text) { throw new UnsupportedOperationException("TODO"); }
    /** Decodes ids, special tokens included as their text. */
    public String decode(int[] ids) { throw new UnsupportedOperationException("TODO"); }
    public IncrementalDecoder newIncrementalDecoder() { throw new UnsupportedOperationException("TODO"); }
    /** Id of a special/added token such as {@code <|im_end|>}. */
    public int specialTokenId(String token) { throw new UnsupportedOperationException("TODO"); }
    /** Total ids, added tokens included. */
    public int vocabularySize() { throw new UnsupportedOperationException("TODO"); }
}

package qwenchat.tokenizer;

/**
 * Streaming decoder: returns text only when complete UTF-8 sequences are available. Not thread-safe.
 *
 * <p>Only trailing bytes that start a well-formed sequence still waiting for its continuation are
 * held back. Everything before them is decoded with the same lossy rule as
 * {@link QwenTokenizer#decode}; since a held-back lead byte can never belong to an earlier
 * sequence, the pieces concatenate to exactly what decoding all ids at once gives.
 */
public final class IncrementalDecoder {

    private final QwenTokenizer tokenizer;
    private final ByteBuffer pending = new ByteBuffer();

    IncrementalDecoder(QwenTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Feeds one id; returns the newly completed text, possibly empty. */
    public String accept(int id) {
        pending.append(tokenizer.bytesOf(id));
        int ready = pending.size() - Utf8.incompleteTail(pending.array(), 0, pending.size());
        if (ready == 0) return "";
        String text = Utf8.decodeLossy(pending.array(), 0, ready);
        pending.discardFirst(ready);
        return text;
    }

    /** Flushes what is left at end of stream (incomplete bytes become U+FFFD as in decode). */
    public String finish() {
        String text = Utf8.decodeLossy(pending.array(), 0, pending.size());
        pending.discardFirst(pending.size());
        return text;
    }
}

package qwenchat.tokenizer;

/** Streaming decoder: returns text only when complete UTF-8 sequences are available. Not thread-safe. */
public final class IncrementalDecoder {
    // SKELETON: the tokenizer work fills this in.
    /** Feeds one id; returns the newly completed text, possibly empty. */
    public String accept(int id) { throw new UnsupportedOperationException("TODO"); }
    /** Flushes what is left at end of stream (incomplete bytes become U+FFFD as in decode). */
    public String finish() { throw new UnsupportedOperationException("TODO"); }
}

package qwenchat.generation;

import qwenchat.tokenizer.IncrementalDecoder;
import qwenchat.tokenizer.QwenTokenizer;

/** Turns a stream of ids into text as soon as whole characters are available. */
public interface TextDecoder {

    /** The text completed by {@code id}, possibly empty. */
    String accept(int id);

    /** What is left at the end of the stream. */
    String finish();

    static TextDecoder of(QwenTokenizer tokenizer) {
        IncrementalDecoder d = tokenizer.newIncrementalDecoder();
        return new TextDecoder() {
            @Override
            public String accept(int id) {
                return d.accept(id);
            }

            @Override
            public String finish() {
                return d.finish();
            }
        };
    }
}

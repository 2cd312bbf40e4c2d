package qwenchat.tokenizer;

/** An entry of tokenizer.json's {@code added_tokens}; special ones are control tokens. */
record AddedToken(int id, String content, boolean special) {
}

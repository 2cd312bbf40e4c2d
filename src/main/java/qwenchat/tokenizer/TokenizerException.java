package qwenchat.tokenizer;

/** A tokenizer file that cannot be used, or input the tokenizer cannot handle; the message names what was wrong. */
public class TokenizerException extends RuntimeException {
    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}

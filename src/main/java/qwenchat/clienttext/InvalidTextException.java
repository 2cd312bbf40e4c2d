package qwenchat.clienttext;

/**
 * A client-supplied text field that cannot be accepted; each surface turns it into its own error
 * (a 400, an {@code error} frame) naming {@link #field()}.
 */
public class InvalidTextException extends IllegalArgumentException {

    private final String field;
    private final String reason;

    public InvalidTextException(String field, String reason) {
        super(field + " " + reason);
        this.field = field;
        this.reason = reason;
    }

    /** The field as the client named it, e.g. {@code messages[2].content}. */
    public String field() {
        return field;
    }

    /** What is wrong, without the field name, e.g. "is 300 characters; the limit is 128". */
    public String reason() {
        return reason;
    }
}

package qwenchat.grammar;

/** A schema this grammar cannot enforce; {@code path} points at the offending part ({@code #/properties/a}). */
public final class SchemaException extends IllegalArgumentException {

    private final String path;

    SchemaException(String path, String message) {
        super(path + ": " + message);
        this.path = path;
    }

    public String path() {
        return path;
    }
}

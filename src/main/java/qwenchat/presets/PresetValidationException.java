package qwenchat.presets;

/** A preset field that is missing or out of range; {@code field} is the JSON path, e.g. {@code sampling.topP}. */
public class PresetValidationException extends RuntimeException {

    private final String field;

    public PresetValidationException(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}

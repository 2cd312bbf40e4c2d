package qwenchat.presets;

/** Editing a built-in preset, or creating one whose id is taken. */
public class PresetConflictException extends RuntimeException {

    public PresetConflictException(String message) {
        super(message);
    }
}

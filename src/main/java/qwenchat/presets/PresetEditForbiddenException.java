package qwenchat.presets;

public class PresetEditForbiddenException extends RuntimeException {

    public PresetEditForbiddenException(String message) {
        super(message);
    }
}

package qwenchat.presets;

public class PresetNotFoundException extends RuntimeException {

    public PresetNotFoundException(String id) {
        super("no preset with id '" + id + "'");
    }
}

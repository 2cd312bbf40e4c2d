package qwenchat.presets;

/** The custom-preset file could not be read or written; the message names the file. */
public class PresetStorageException extends RuntimeException {

    public PresetStorageException(String message, Throwable cause) {
        super(message, cause);
    }
}

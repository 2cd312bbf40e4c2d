package qwenchat.model;

/** A config.json or generation_config.json that cannot describe a Qwen2 model; the message names the file and field. */
public class ModelConfigException extends RuntimeException {
    public ModelConfigException(String message) {
        super(message);
    }

    public ModelConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}

package qwenchat.weights;

/** A checkpoint file that breaks the safetensors format or does not match the config; names the file and tensor. */
public class SafetensorsException extends RuntimeException {
    public SafetensorsException(String message) {
        super(message);
    }

    public SafetensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}

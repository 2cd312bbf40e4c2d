package qwenchat.hub;

/** A model could not be fetched from the hub; the message names the URL or file and what to do. */
public class HubException extends RuntimeException {

    public HubException(String message) {
        super(message);
    }

    public HubException(String message, Throwable cause) {
        super(message, cause);
    }
}

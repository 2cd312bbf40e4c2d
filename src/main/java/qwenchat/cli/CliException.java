package qwenchat.cli;

/** A usage or input error: printed to stderr without a stack trace, exit code 2. */
public class CliException extends RuntimeException {
    public CliException(String message) {
        super(message);
    }
}

package qwenchat.api;

import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import java.io.IOException;

/**
 * Tells whether the client of an asynchronous request has hung up while nothing is being written.
 *
 * <p>Tomcat neither watches the socket of an asynchronous request nor reports a hang-up to its
 * {@code AsyncListener}; a write would notice, but a non-streamed answer has nothing to write until
 * it is done. In non-blocking mode (a {@link ReadListener} is set) {@link ServletInputStream#available()}
 * makes a non-blocking read of the socket once the body is consumed: a closed or reset connection
 * then reports data every time, whereas bytes a client pipelined are reported once and kept in
 * Tomcat's buffer for the next request. Two reports in a row therefore mean the client is gone.
 */
final class HangUpDetector {

    private final ServletInputStream in;
    private boolean reportedBefore;
    private boolean gone;

    /** {@code in} must belong to a request whose asynchronous mode has started and whose body is read. */
    HangUpDetector(ServletInputStream in) {
        this.in = in;
        in.setReadListener(new ReadListener() {
            @Override
            public void onDataAvailable() {
            }

            @Override
            public void onAllDataRead() {
            }

            @Override
            public void onError(Throwable t) {
                gone = true;
            }
        });
    }

    /** Polls the connection; once true, stays true. Call from one thread. */
    boolean hungUp() {
        if (gone) return true;
        boolean reported;
        try {
            reported = in.available() > 0;
        } catch (IOException | IllegalStateException e) {
            reported = true;
            reportedBefore = true;
        }
        gone = reported && reportedBefore;
        reportedBefore = reported;
        return gone;
    }
}

package qwenchat.hub;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A response body that gives up when no bytes arrive for {@code timeout}. The JDK HttpClient's
 * request timeout stops at the headers, so a server that keeps the socket open but stops sending
 * would block {@link #read} forever; a watchdog closes the stream instead, which wakes the blocked
 * reader (the HttpClient's body stream answers a concurrent close with an IOException) and cancels
 * the exchange. The reader then gets a {@link TransferStalledException}.
 *
 * <p>The watchdog is one daemon thread per stream, shut down by {@link #close}, so nothing outlives
 * the transfer whether it succeeds, fails or stalls.
 */
final class IdleTimeoutInputStream extends FilterInputStream {

    private final long timeoutNanos;
    private final Duration timeout;
    private final ScheduledExecutorService watchdog;
    private volatile long lastProgress;
    private volatile boolean stalled;
    private volatile boolean closed;
    private long received;
    private ScheduledFuture<?> check;

    IdleTimeoutInputStream(InputStream in, Duration timeout) {
        super(in);
        this.timeout = timeout;
        this.timeoutNanos = timeout.toNanos();
        this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "hub-read-watchdog");
            t.setDaemon(true);
            return t;
        });
        this.lastProgress = System.nanoTime();
        arm(timeoutNanos);
    }

    private synchronized void arm(long delayNanos) {
        if (!closed) check = watchdog.schedule(this::checkIdle, delayNanos, TimeUnit.NANOSECONDS);
    }

    /** Re-arms for the rest of the idle window when bytes came since, else abandons the transfer. */
    private void checkIdle() {
        long idle = System.nanoTime() - lastProgress;
        if (idle < timeoutNanos) {
            arm(timeoutNanos - idle);
            return;
        }
        stalled = true;
        try {
            in.close();
        } catch (IOException | RuntimeException ignored) {
            // The read it wakes reports the stall; a failed close has nothing to add.
        }
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (stalled) throw new TransferStalledException(timeout, received);
        int n;
        try {
            n = in.read(b, off, len);
        } catch (IOException e) {
            if (stalled) throw stalledBy(e);
            throw e;
        }
        // A close by the watchdog may also surface as end of stream: that is no end of the file.
        if (stalled) throw new TransferStalledException(timeout, received);
        if (n > 0) {
            received += n;
            lastProgress = System.nanoTime();
        }
        return n;
    }

    private TransferStalledException stalledBy(IOException e) {
        TransferStalledException s = new TransferStalledException(timeout, received);
        s.addSuppressed(e);
        return s;
    }

    @Override
    public void close() throws IOException {
        synchronized (this) {
            closed = true;
            if (check != null) check.cancel(false);
        }
        watchdog.shutdownNow();
        in.close();
    }
}

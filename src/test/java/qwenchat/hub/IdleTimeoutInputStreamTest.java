package qwenchat.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class IdleTimeoutInputStreamTest {

    /** Serves {@code bytes} one per read, each after {@code gapMillis}; then blocks until closed. */
    private static final class SlowStream extends InputStream {
        private final int bytes;
        private final long gapMillis;
        private final CountDownLatch closed = new CountDownLatch(1);
        private int sent;

        SlowStream(int bytes, long gapMillis) {
            this.bytes = bytes;
            this.gapMillis = gapMillis;
        }

        @Override
        public int read() throws IOException {
            try {
                if (sent < bytes) {
                    Thread.sleep(gapMillis);
                    return sent++ & 0xff;
                }
                closed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new IOException("closed");
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) return 0;
            int c = read();
            b[off] = (byte) c;
            return 1;
        }

        @Override
        public void close() {
            closed.countDown();
        }
    }

    @Test
    void slowButSteadyBodyIsNotAbandoned() throws IOException {
        // 12 bytes 100 ms apart: 1.2 s in all, four times the idle limit, but never 300 ms silent.
        try (IdleTimeoutInputStream in = new IdleTimeoutInputStream(new SlowStream(12, 100), Duration.ofMillis(300))) {
            byte[] got = in.readNBytes(12);
            assertThat(got).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
        }
    }

    @Test
    void silentBodyIsClosedAndReportsTheBytesReceived() throws IOException {
        long start = System.nanoTime();
        try (IdleTimeoutInputStream in = new IdleTimeoutInputStream(new SlowStream(3, 10), Duration.ofMillis(200))) {
            assertThat(in.readNBytes(3)).containsExactly(0, 1, 2);
            assertThatThrownBy(in::read)
                    .isInstanceOfSatisfying(TransferStalledException.class, e -> {
                        assertThat(e.received()).isEqualTo(3);
                        assertThat(e.timeout()).isEqualTo(Duration.ofMillis(200));
                    })
                    .hasMessageContaining("no data for 200 ms after 3 bytes");
            // Later reads keep saying so rather than pretending the body ended.
            assertThatThrownBy(() -> in.read(new byte[4])).isInstanceOf(TransferStalledException.class);
        }
        assertThat((System.nanoTime() - start) / 1_000_000).isBetween(200L, 3_000L);
    }
}

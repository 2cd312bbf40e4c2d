package qwenchat.web;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.web.socket.CloseStatus;
import org.springframework.web.socket.PingMessage;
import org.springframework.web.socket.TextMessage;
import org.springframework.web.socket.WebSocketSession;
import org.springframework.web.socket.handler.ConcurrentWebSocketSessionDecorator;

/**
 * One socket's outgoing frames. {@link #send} never blocks: the scheduler thread calls it for
 * every token, and a client that reads slowly must not stall other users' generations. Frames go
 * through a queue drained by a virtual thread into Spring's {@link ConcurrentWebSocketSessionDecorator};
 * when the queue holds more than the buffer limit, or one send has stalled longer than the time
 * limit, the socket is closed and {@code onOverflow} runs (it cancels the generation), so a slow
 * client cannot grow server memory.
 */
final class FrameSender {

    private static final Logger log = LoggerFactory.getLogger(FrameSender.class);

    private final WebSocketSession session; // the decorator
    private final Executor drainer;
    private final long bufferLimitBytes;
    private final long timeLimitMillis;
    private final Runnable onOverflow;
    /** A frame waiting to go out: text, or a ping when {@code text} is null. */
    private record Outgoing(String text) {
    }

    private final Queue<Outgoing> queue = new ConcurrentLinkedQueue<>();
    private final AtomicLong queuedBytes = new AtomicLong();
    private final AtomicBoolean draining = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile long sendStartedAt; // 0 while no send is in progress

    FrameSender(WebSocketSession raw, Executor drainer, int bufferLimitBytes, long timeLimitMillis, Runnable onOverflow) {
        this.session = new ConcurrentWebSocketSessionDecorator(raw, (int) Math.min(Integer.MAX_VALUE, timeLimitMillis),
                bufferLimitBytes, ConcurrentWebSocketSessionDecorator.OverflowStrategy.TERMINATE);
        this.drainer = drainer;
        this.bufferLimitBytes = bufferLimitBytes;
        this.timeLimitMillis = timeLimitMillis;
        this.onOverflow = onOverflow;
    }

    void send(String frame) {
        if (closed.get()) return;
        long size = utf8Length(frame);
        long queued = queuedBytes.addAndGet(size);
        long started = sendStartedAt;
        // One frame larger than the limit may still go out alone; only a backlog counts.
        if (queued > bufferLimitBytes && queued > size) {
            overflow("more than " + bufferLimitBytes + " bytes of frames are waiting for this client");
            return;
        }
        if (started != 0 && System.currentTimeMillis() - started > timeLimitMillis) {
            overflow("one send has been stalled for more than " + timeLimitMillis + " ms");
            return;
        }
        enqueue(new Outgoing(frame));
    }

    /** Queues a ping behind the frames already waiting; sends never overlap, so it cannot collide with one. */
    void ping() {
        if (closed.get()) return;
        enqueue(new Outgoing(null));
    }

    private void enqueue(Outgoing o) {
        queue.add(o);
        if (draining.compareAndSet(false, true)) drainer.execute(this::drain);
    }

    private void drain() {
        while (true) {
            Outgoing frame;
            while ((frame = queue.poll()) != null) {
                if (frame.text() != null) queuedBytes.addAndGet(-utf8Length(frame.text()));
                if (closed.get() || !session.isOpen()) continue;
                sendStartedAt = System.currentTimeMillis();
                try {
                    session.sendMessage(frame.text() == null ? new PingMessage()
                            : new TextMessage(frame.text().getBytes(StandardCharsets.UTF_8)));
                } catch (IOException | RuntimeException e) {
                    log.debug("send to {} failed: {}", session.getId(), e.toString());
                    closed.set(true);
                } finally {
                    sendStartedAt = 0;
                }
            }
            draining.set(false);
            // A frame added after the poll loop ended but before the flag was cleared is drained here.
            if (queue.isEmpty() || !draining.compareAndSet(false, true)) return;
        }
    }

    private void overflow(String why) {
        if (!closed.compareAndSet(false, true)) return;
        log.info("closing chat socket {}: client too slow ({})", session.getId(), why);
        queue.clear();
        onOverflow.run();
        // Closing writes a close frame, which may wait behind the stalled send: not on the caller's thread.
        drainer.execute(() -> {
            try {
                session.close(CloseStatus.SESSION_NOT_RELIABLE.withReason("client too slow"));
            } catch (IOException | RuntimeException ignored) {
                // already gone
            }
        });
    }

    static long utf8Length(String s) {
        long n = s.length();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 0x80) n += c < 0x800 || Character.isSurrogate(c) ? 1 : 2;
        }
        return n;
    }

    void markClosed() {
        closed.set(true);
        queue.clear();
    }
}

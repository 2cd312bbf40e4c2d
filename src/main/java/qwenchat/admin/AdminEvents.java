package qwenchat.admin;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

/**
 * The open dashboard event streams; each tick's data goes to all of them from the sampler thread.
 * A few kilobytes a second per stream, to a handful of operators: a slow reader delays the next
 * tick at worst, never the decode loop.
 */
final class AdminEvents {

    /** Streams end after this and the page reconnects with a fresh ticket, so none lives forever. */
    static final Duration STREAM_LIFETIME = Duration.ofMinutes(30);

    private final List<SseEmitter> emitters = new CopyOnWriteArrayList<>();

    SseEmitter open() {
        SseEmitter e = new SseEmitter(STREAM_LIFETIME.toMillis());
        emitters.add(e);
        e.onCompletion(() -> emitters.remove(e));
        e.onTimeout(() -> emitters.remove(e));
        e.onError(t -> emitters.remove(e));
        return e;
    }

    int size() {
        return emitters.size();
    }

    void publish(String name, Object data) {
        for (SseEmitter e : emitters) {
            try {
                e.send(SseEmitter.event().name(name).data(data));
            } catch (IOException | IllegalStateException ex) {
                emitters.remove(e);
                e.completeWithError(ex);
            }
        }
    }

    void closeAll() {
        for (SseEmitter e : emitters) e.complete();
        emitters.clear();
    }
}

package qwenchat.api;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import qwenchat.generation.FinishReason;
import qwenchat.serving.GeneratedToken;
import qwenchat.serving.GenerationException;
import qwenchat.serving.GenerationListener;
import qwenchat.generation.GenerationUsage;

/**
 * Hands a generation's events from the scheduler thread (which must never block) to the request's
 * own thread, which writes them to the client at its own pace.
 */
final class GenerationEvents implements GenerationListener {

    sealed interface Event permits Token, Done, Failed {
    }

    record Token(GeneratedToken token) implements Event {
    }

    record Done(FinishReason reason, String tailText, GenerationUsage usage) implements Event {
    }

    record Failed(GenerationException error) implements Event {
    }

    private final LinkedBlockingQueue<Event> queue = new LinkedBlockingQueue<>();

    @Override
    public void onStart(int promptTokens) {
    }

    @Override
    public void onToken(GeneratedToken token) {
        queue.add(new Token(token));
    }

    @Override
    public void onComplete(FinishReason reason, String tailText, GenerationUsage usage) {
        queue.add(new Done(reason, tailText, usage));
    }

    @Override
    public void onError(GenerationException error) {
        queue.add(new Failed(error));
    }

    /** The next event, or null when none came within {@code millis}. */
    Event next(long millis) throws InterruptedException {
        return queue.poll(millis, TimeUnit.MILLISECONDS);
    }
}

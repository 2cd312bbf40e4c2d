package qwenchat.api;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import qwenchat.generation.FinishReason;
import qwenchat.serving.GeneratedToken;
import qwenchat.serving.GenerationException;
import qwenchat.serving.GenerationListener;
import qwenchat.generation.GenerationUsage;

/**
 * Hands the events of a request's generations (one per choice, {@code n} of them) from the
 * scheduler thread (which must never block) to the request's own thread, which writes them to the
 * client at its own pace. Each event names its choice.
 */
final class GenerationEvents {

    sealed interface Event permits Token, Done, Failed {
        int choice();
    }

    record Token(int choice, GeneratedToken token) implements Event {
    }

    record Done(int choice, FinishReason reason, String tailText, GenerationUsage usage) implements Event {
    }

    record Failed(int choice, GenerationException error) implements Event {
    }

    private final LinkedBlockingQueue<Event> queue = new LinkedBlockingQueue<>();

    /** The listener for choice {@code choice}'s generation. */
    GenerationListener listener(int choice) {
        return new GenerationListener() {
            @Override
            public void onStart(int promptTokens) {
            }

            @Override
            public void onToken(GeneratedToken token) {
                queue.add(new Token(choice, token));
            }

            @Override
            public void onComplete(FinishReason reason, String tailText, GenerationUsage usage) {
                queue.add(new Done(choice, reason, tailText, usage));
            }

            @Override
            public void onError(GenerationException error) {
                queue.add(new Failed(choice, error));
            }
        };
    }

    /** The next event, or null when none came within {@code millis}. */
    Event next(long millis) throws InterruptedException {
        return queue.poll(millis, TimeUnit.MILLISECONDS);
    }
}

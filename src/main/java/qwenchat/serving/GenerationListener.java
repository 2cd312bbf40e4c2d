package qwenchat.serving;

import qwenchat.generation.FinishReason;
import qwenchat.generation.GenerationUsage;
/**
 * Receives one generation's events, in order: {@code onStart}, any number of {@code onToken},
 * then exactly one of {@code onComplete} or {@code onError}. Called from the scheduler thread:
 * implementations must not block (hand off to a socket's own send queue).
 */
public interface GenerationListener {

    /** Prefill is about to run (the request left the queue). */
    void onStart(int promptTokens);

    void onToken(GeneratedToken token);

    /** {@code tailText} is text released only at the end (held-back bytes), possibly empty. */
    void onComplete(FinishReason reason, String tailText, GenerationUsage usage);

    void onError(GenerationException error);
}

package qwenchat.serving;

import java.util.ArrayList;
import qwenchat.generation.GenerationUsage;
import qwenchat.generation.FinishReason;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** A listener that records every event and completes a future with the outcome. */
final class Collector implements GenerationListener {

    record Outcome(FinishReason reason, String text, List<Integer> ids, GenerationUsage usage,
            GenerationException error, boolean started) {
    }

    final List<GeneratedToken> tokens = Collections.synchronizedList(new ArrayList<>());
    final StringBuilder text = new StringBuilder();
    final CompletableFuture<Outcome> done = new CompletableFuture<>();
    final CompletableFuture<Void> firstToken = new CompletableFuture<>();
    volatile boolean started;
    final java.util.concurrent.atomic.AtomicInteger starts = new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public void onStart(int promptTokens) {
        started = true;
        starts.incrementAndGet();
    }

    @Override
    public synchronized void onToken(GeneratedToken token) {
        tokens.add(token);
        text.append(token.text());
        firstToken.complete(null);
    }

    @Override
    public synchronized void onComplete(FinishReason reason, String tailText, GenerationUsage usage) {
        text.append(tailText);
        done.complete(new Outcome(reason, text.toString(), tokens.stream().map(GeneratedToken::id).toList(), usage,
                null, started));
    }

    @Override
    public void onError(GenerationException error) {
        done.complete(new Outcome(null, null, List.of(), null, error, started));
    }

    Outcome await() throws Exception {
        return done.get(120, TimeUnit.SECONDS);
    }
}

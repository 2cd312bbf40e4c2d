package qwenchat.serving;

import qwenchat.generation.GenerationRequest;
/**
 * The serving entry point shared by the WebSocket chat and the HTTP API: a scheduler that admits
 * requests by KV capacity, batches every running sequence into one engine step (continuous
 * batching), and streams tokens back through each request's listener.
 */
public interface GenerationService {

    /**
     * Validates and queues a request. Rejections that need no engine work are thrown here, before
     * anything is queued: {@code MODEL_NOT_READY}, {@code BUSY}, {@code CONTEXT_OVERFLOW},
     * {@code INVALID_REQUEST}.
     */
    GenerationHandle submit(GenerationRequest request, GenerationListener listener);

    /** Requests decoding now. */
    int runningCount();

    /** Requests admitted but waiting for a KV slot. */
    int waitingCount();
}

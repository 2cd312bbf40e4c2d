package qwenchat.engine;

import java.util.List;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.model.ModelConfig;

/**
 * A loaded Qwen2 model and its KV cache: the one seam between serving code and the CPU and CUDA
 * engines. Web code depends on this interface only.
 *
 * <h2>Sequences and the KV cache</h2>
 * The engine owns a paged KV cache of fixed {@link #capacity()}: a pool of blocks shared by at
 * most {@code maxSequences} open sequences of at most {@code maxTokensPerSequence} tokens each.
 * {@link #openSequence()} opens an empty sequence, every prefill or decode step takes the blocks
 * its tokens need from the pool, and {@link #freeSequence(int)} returns the sequence's blocks.
 * Nothing is reserved ahead: when the pool runs dry a step throws {@link KvCacheFullException}
 * before changing anything, and {@link #kvUsage()} lets the scheduler see that coming (to admit
 * and preempt). Sequence ids are small integers {@code 0 <= id < maxSequences}, reused after a free.
 *
 * <h2>Continuous batching</h2>
 * A scheduler drives the engine in a loop. Between two calls it may open sequences for newcomers
 * and free finished or cancelled ones; nothing else holds state across calls. Each iteration it
 * passes one {@link #step(List)}: newcomers carry their prompt, whole or a chunk of it (a prefill),
 * running sequences carry the one token sampled for them last step (a decode). The engine may run prefills one by one
 * and the decodes as one batch; the results come back in request order.
 *
 * <h2>Two levels</h2>
 * {@link #prefillLogits} and {@link #decodeLogits} return raw float logits: the oracle interface
 * that parity tests compare against transformers. {@link #step} samples inside the engine (on the
 * GPU for CUDA) and returns only ids and optional top-k log-probabilities.
 *
 * <h2>Threading</h2>
 * Not thread-safe: exactly one thread (the scheduler's loop) calls an engine at a time. The CUDA
 * engine additionally serialises its device work under its context's lock.
 */
public interface InferenceEngine extends AutoCloseable {

    ModelConfig config();

    EngineInfo info();

    KvCacheCapacity capacity();

    /** Blocks of the KV pool in use now; cheap, called by the scheduler every iteration. */
    KvBlockUsage kvUsage();

    /**
     * Opens a new, empty sequence; it holds no KV block until tokens are appended.
     *
     * @throws KvCacheFullException when all {@code maxSequences} slots are open
     */
    int openSequence();

    /** Closes the sequence and returns its KV blocks. Freeing one that is not open is a no-op. */
    void freeSequence(int sequence);

    /**
     * Tokens at the start of {@code tokens} whose keys and values the engine holds in cached full
     * blocks (automatic prefix caching), always fewer than {@code tokens.length} so one is left to
     * compute. Changes nothing. An engine without prefix caching returns 0.
     */
    default int cachedPrefixLength(int[] tokens) {
        return 0;
    }

    /**
     * Starts an empty, just opened sequence on the cached blocks that hold the longest prefix of
     * {@code tokens} (what {@link #cachedPrefixLength} counts), as if those tokens had been
     * prefilled: its length becomes the count returned, and the penalties see those tokens, the ones
     * at or after {@code promptLength} as sampled. The caller then prefills the rest. An engine
     * without prefix caching returns 0 and changes nothing.
     */
    default int reuseCachedPrefix(int sequence, int[] tokens, int promptLength) {
        return 0;
    }

    /**
     * How many earlier tokens a prompt token attends to when its attention costs as much time as its
     * projections do: a prefill chunk of n tokens after {@code held} ones costs about
     * {@code n + n * (held + n / 2) / attentionBreakEven()} tokens' worth of projections. The scheduler
     * sizes chunks by it so a late chunk of a long prompt takes no longer than an early one. 0: this
     * engine's attention is not worth counting (the chunk costs its tokens).
     */
    default int attentionBreakEven() {
        return 0;
    }

    /** Tokens currently held in the sequence's KV cache. */
    int sequenceLength(int sequence);

    /** How many sequences are open now. */
    int openSequenceCount();

    /**
     * Appends {@code tokens} (at positions {@code sequenceLength .. +tokens.length-1}) to the
     * sequence and returns the logits of the last position ({@code [1][vocab]}), or of every
     * appended position ({@code [tokens.length][vocab]}) when {@code allPositions}.
     *
     * @throws KvCacheFullException when the sequence would exceed {@code maxTokensPerSequence} or
     *     the pool has too few free blocks; nothing has changed then
     */
    float[][] prefillLogits(int sequence, int[] tokens, boolean allPositions);

    /** Appends {@code tokens[i]} to {@code sequences[i]} for every i and returns {@code [batch][vocab]} logits. */
    float[][] decodeLogits(int[] sequences, int[] tokens);

    /**
     * Runs one scheduler iteration: appends each request's tokens to its sequence (after whatever it
     * holds, so a long prompt may arrive as chunks over several steps) and samples the next token
     * from the last position's logits with the request's sampling parameters, except for chunks
     * with {@link StepRequest#sample()} false. Penalties see every token the engine has been fed for
     * that sequence (see {@link StepRequest}).
     *
     * @return one result per request, in request order
     * @throws KvCacheFullException when the pool cannot hold every request's tokens; thrown before
     *     anything changes, so the caller may free sequences and retry
     */
    List<SampledToken> step(List<StepRequest> requests);

    /** Frees every device and host resource. The engine is unusable afterwards. */
    @Override
    void close();
}

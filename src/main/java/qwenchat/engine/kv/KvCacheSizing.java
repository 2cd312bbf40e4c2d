package qwenchat.engine.kv;

import java.util.Locale;
import qwenchat.model.ModelConfig;

/**
 * How many KV blocks a memory budget buys, and the start-up line that tells an operator what that
 * means in conversations. Pure arithmetic, the same for both engines.
 *
 * @param bytesPerToken keys and values of one token over all layers
 * @param blockSize tokens per block
 * @param totalBlocks blocks the budget holds
 * @param contextLength the model's context limit, which a pool smaller than it caps
 */
public record KvCacheSizing(long bytesPerToken, int blockSize, int totalBlocks, int contextLength) {

    /** The conversation length the start-up line counts in. */
    public static final int CONVERSATION_TOKENS = 8192;

    public KvCacheSizing {
        if (bytesPerToken < 1) throw new IllegalArgumentException("bytesPerToken must be >= 1, got " + bytesPerToken);
        if (blockSize < 1) throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
        if (totalBlocks < 1) throw new IllegalArgumentException("totalBlocks must be >= 1, got " + totalBlocks);
        if (contextLength < 1) throw new IllegalArgumentException("contextLength must be >= 1, got " + contextLength);
    }

    /**
     * The pool that {@code kvBytes} holds.
     *
     * @throws IllegalArgumentException naming the numbers when the budget does not hold one block
     */
    public static KvCacheSizing of(long kvBytes, long bytesPerToken, int blockSize, int contextLength) {
        if (bytesPerToken < 1) throw new IllegalArgumentException("bytesPerToken must be >= 1, got " + bytesPerToken);
        if (blockSize < 1) throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
        long blockBytes = bytesPerToken * blockSize;
        long blocks = kvBytes / blockBytes;
        if (blocks < 1) {
            throw new IllegalArgumentException("the KV cache budget of " + gib(kvBytes) + " (" + kvBytes
                    + " bytes) does not hold one block of " + blockSize + " tokens (" + blockBytes + " bytes)");
        }
        return new KvCacheSizing(bytesPerToken, blockSize, (int) Math.min(Integer.MAX_VALUE, blocks), contextLength);
    }

    /** The pool that holds {@code tokens} tokens, rounded up to whole blocks. */
    public static KvCacheSizing ofTokens(long tokens, long bytesPerToken, int blockSize, int contextLength) {
        if (tokens < 1) throw new IllegalArgumentException("tokens must be >= 1, got " + tokens);
        long blocks = (tokens + blockSize - 1) / blockSize;
        return new KvCacheSizing(bytesPerToken, blockSize, (int) Math.min(Integer.MAX_VALUE, blocks), contextLength);
    }

    /** Keys plus values of one token over all layers, {@code elementBytes} per value (2 for bf16, 4 for float32). */
    public static long bytesPerToken(ModelConfig c, int elementBytes) {
        return 2L * c.numHiddenLayers() * c.numKeyValueHeads() * c.headDim() * elementBytes;
    }

    /**
     * The share {@code utilization} (vLLM's gpu_memory_utilization) of {@code deviceBytes} the process may use:
     * what a GPU placement ({@code qwenchat.engine.placement.LayerPlacement}) subtracts weights, workspace
     * and what is already taken from to get a GPU's KV budget.
     */
    public static long allowedBytes(long deviceBytes, double utilization) {
        if (!(utilization > 0 && utilization <= 1)) {
            throw new IllegalArgumentException("gpu-memory-utilization must be in (0, 1], got " + utilization);
        }
        return (long) (deviceBytes * utilization);
    }

    public long totalTokens() {
        return (long) totalBlocks * blockSize;
    }

    public long bytes() {
        return totalTokens() * bytesPerToken;
    }

    /** Conversations of {@code tokens} tokens the pool holds at once. */
    public long conversations(int tokens) {
        return totalTokens() / tokens;
    }

    /** The longest a single sequence can grow: the model's context unless the pool is smaller. */
    public int maxTokensPerSequence() {
        return (int) Math.min(contextLength, totalTokens());
    }

    /** E.g. "KV cache: 229,376 tokens in 3,584 blocks of 64 (12.3 GiB): 28 conversations of 8K". */
    public String logLine() {
        String head = String.format(Locale.ROOT, "KV cache: %,d tokens in %,d blocks of %d (%s)", totalTokens(), totalBlocks,
                blockSize, gib(bytes()));
        // A pool smaller than one 8K conversation (a CPU demo, a tiny test pool) says what it does hold.
        if (totalTokens() < CONVERSATION_TOKENS) return head + ": one conversation of up to " + totalTokens() + " tokens";
        long n = conversations(CONVERSATION_TOKENS);
        return String.format(Locale.ROOT, "%s: %,d conversation%s of %dK", head, n, n == 1 ? "" : "s",
                CONVERSATION_TOKENS / 1024);
    }

    /** Bytes as MiB below one GiB, else GiB, one decimal: how start-up lines print sizes. */
    public static String gib(long bytes) {
        if (bytes < (1L << 30)) return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
        return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    }
}

package qwenchat.engine.cpu;

import java.util.Arrays;
import qwenchat.engine.KvCacheFullException;
import qwenchat.engine.sampling.TokenHistory;

/**
 * One open sequence: its float32 KV cache, grown in 256-token steps (and by half at least) so that
 * a long-context capacity costs memory only as the sequence actually grows, and the tokens the
 * penalties look at.
 */
final class SequenceState {

    static final int GROWTH_TOKENS = 256;

    final int slot;
    final float[][] keys;   // [layers][allocatedTokens*kvDim]
    final float[][] values; // [layers][allocatedTokens*kvDim]
    final TokenHistory history = new TokenHistory();
    private final int kvDim;
    private final int maxTokens;
    private int allocatedTokens;
    int length;

    SequenceState(int slot, int layers, int kvDim, int maxTokens) {
        this.slot = slot;
        this.kvDim = kvDim;
        this.maxTokens = maxTokens;
        this.keys = new float[layers][];
        this.values = new float[layers][];
        for (int l = 0; l < layers; l++) {
            keys[l] = new float[0];
            values[l] = new float[0];
        }
    }

    /** Makes room for {@code more} tokens after the current length. */
    void reserve(int more) {
        checkRoom(more);
        long need = (long) length + more;
        if (need <= allocatedTokens) return;
        // Grow by half again at least, so a 32K-token sequence is copied a few dozen times, not 128.
        long target = Math.max(need, allocatedTokens + allocatedTokens / 2);
        int grown = (int) Math.min(maxTokens, ((target + GROWTH_TOKENS - 1) / GROWTH_TOKENS) * GROWTH_TOKENS);
        for (int l = 0; l < keys.length; l++) {
            keys[l] = Arrays.copyOf(keys[l], grown * kvDim);
            values[l] = Arrays.copyOf(values[l], grown * kvDim);
        }
        allocatedTokens = grown;
    }

    /** Throws unless {@code more} tokens fit under the per-sequence capacity. */
    void checkRoom(int more) {
        long need = (long) length + more;
        if (need > maxTokens) {
            throw new KvCacheFullException("sequence " + slot + " would hold " + need
                    + " tokens, over the KV cache's " + maxTokens + " tokens per sequence");
        }
    }

    long kvBytes() {
        return 2L * keys.length * allocatedTokens * kvDim * Float.BYTES;
    }
}

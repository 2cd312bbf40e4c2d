package qwenchat.serving;

import qwenchat.engine.KvBlockUsage;
import qwenchat.engine.KvCacheCapacity;

/**
 * Who may start: a waiting request is admitted while the KV pool's free blocks, less those the
 * running sequences need for the coming step and a watermark of {@link #WATERMARK_FRACTION} of the
 * pool, cover its prompt. The watermark keeps room for running sequences to grow a little, so a
 * fresh admission is not preempted again at the very next step. Blocks are never reserved for the
 * tokens a request may generate: when they run out, {@link PreemptionPolicy} makes room.
 */
final class KvAdmission {

    /** Share of the pool kept free at admission (vLLM uses 1% as well). */
    static final double WATERMARK_FRACTION = 0.01;

    private KvAdmission() {
    }

    static int watermarkBlocks(int totalBlocks) {
        return (int) (totalBlocks * WATERMARK_FRACTION);
    }

    /**
     * @param committedBlocks blocks already promised to this step (running decodes, earlier admissions)
     * @param tokens the tokens the request's first step feeds (its prompt, plus what it had generated
     *     when it was preempted)
     * @param nothingRunning when nothing else holds blocks the watermark protects no one, and a
     *     request as large as the whole pool must still start
     */
    static boolean admits(KvBlockUsage usage, int committedBlocks, int tokens, boolean nothingRunning) {
        int need = usage.blocksFor(tokens);
        int available = usage.freeBlocks() - committedBlocks - (nothingRunning ? 0 : watermarkBlocks(usage.totalBlocks()));
        return need <= available;
    }

    /**
     * Why a request can never run, or null: prompt plus max tokens beyond the served context, or
     * beyond what the whole pool holds (it could not finish even with every other sequence
     * preempted). When the pool is what bounds the context, the message names both.
     */
    static String neverFits(int promptTokens, int maxNewTokens, KvCacheCapacity capacity, int servedContext) {
        long need = (long) promptTokens + maxNewTokens;
        long pool = capacity.totalTokens();
        if (need <= servedContext && need <= pool) return null;
        String head = "the prompt has " + promptTokens + " tokens and max tokens is " + maxNewTokens + ", together "
                + need + ", more than ";
        String poolText = pool + " tokens the whole KV cache holds (" + capacity.totalBlocks() + " blocks of "
                + capacity.blockSize() + ")";
        if (pool < servedContext) return head + "the " + poolText;
        if (pool == servedContext) return head + "the context size of " + servedContext + " tokens, the " + poolText;
        return head + "the context size of " + servedContext + " tokens";
    }
}

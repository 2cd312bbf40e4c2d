package qwenchat.engine.kv;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Which pool blocks hold a known prefix: full blocks by {@link BlockHash}, with their tokens and
 * their parent's name kept beside, so that a lookup checks the contents and a hash collision can
 * never hand a sequence another prompt's keys and values. Only the first block to fill with given
 * contents is registered; a second one with the same contents stays private to its sequence.
 */
final class PrefixCache {

    private record Entry(BlockHash hash, BlockHash parent, int[] tokens) {
    }

    private final Map<BlockHash, Integer> byHash = new HashMap<>();
    private final Entry[] byBlock;

    PrefixCache(int totalBlocks) {
        this.byBlock = new Entry[totalBlocks];
    }

    /** Registers a block that has just filled; false when those contents are cached already. */
    boolean register(int block, BlockHash hash, BlockHash parent, int[] tokens) {
        if (byHash.containsKey(hash) || byBlock[block] != null) return false;
        byHash.put(hash, block);
        byBlock[block] = new Entry(hash, parent, tokens.clone());
        return true;
    }

    /** The block holding exactly these contents after {@code parent}, or -1. */
    int find(BlockHash hash, BlockHash parent, int[] tokens, int from, int count) {
        Integer block = byHash.get(hash);
        if (block == null) return -1;
        Entry e = byBlock[block];
        boolean same = e.parent.equals(parent)
                && Arrays.equals(e.tokens, 0, e.tokens.length, tokens, from, from + count);
        return same ? block : -1;
    }

    boolean isRegistered(int block) {
        return byBlock[block] != null;
    }

    /** Forgets a block whose memory the pool hands to someone else. */
    void forget(int block) {
        Entry e = byBlock[block];
        if (e == null) return;
        byHash.remove(e.hash);
        byBlock[block] = null;
    }

    int size() {
        return byHash.size();
    }
}

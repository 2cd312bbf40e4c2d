package qwenchat.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE over ranked merges. Each pre-token is merged with a min-heap of candidate pairs
 * (lowest rank first, leftmost on ties) over a linked list of symbols, O(n log n) in its length,
 * which is the order Hugging Face's BPE applies merges in.
 */
final class BpeModel {

    /** Hugging Face's default cache size; words are cached only while there is room, so memory stays bounded. */
    private static final int CACHE_CAPACITY = 10_000;
    private static final int CACHE_MAX_WORD_CHARS = 256;

    private final Map<String, Integer> vocab;
    private final int[] byteToId;        // [256]
    private final PairRanks pairRanks;
    private final int[] mergeResult;     // [merges] id produced by the merge of that rank
    private final boolean ignoreMerges;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    BpeModel(Map<String, Integer> vocab, int[] byteToId, PairRanks pairRanks, int[] mergeResult, boolean ignoreMerges) {
        this.vocab = vocab;
        this.byteToId = byteToId;
        this.pairRanks = pairRanks;
        this.mergeResult = mergeResult;
        this.ignoreMerges = ignoreMerges;
    }

    /** Appends the ids of one pre-token. */
    void encodeWord(String word, IntList out) {
        boolean cacheable = word.length() <= CACHE_MAX_WORD_CHARS;
        if (cacheable) {
            int[] cached = cache.get(word);
            if (cached != null) {
                out.addAll(cached);
                return;
            }
        }
        int[] ids = merge(word.getBytes(StandardCharsets.UTF_8), word);
        if (cacheable && cache.size() < CACHE_CAPACITY) {
            cache.putIfAbsent(word, ids);
        }
        out.addAll(ids);
    }

    private int[] merge(byte[] bytes, String word) {
        int n = bytes.length;
        if (ignoreMerges) {
            Integer whole = vocab.get(byteLevel(bytes));
            if (whole != null) return new int[] {whole};
        }
        int[] sym = new int[n];   // [n] current id of the symbol starting at i, -1 once merged into its left neighbour
        int[] prev = new int[n];  // [n] linked list over live symbols
        int[] next = new int[n];
        LongHeap heap = new LongHeap(Math.max(4, n));
        for (int i = 0; i < n; i++) {
            sym[i] = byteToId[bytes[i] & 0xFF];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        for (int i = 0; i + 1 < n; i++) {
            push(heap, sym[i], sym[i + 1], i);
        }
        int live = n;
        while (!heap.isEmpty()) {
            long top = heap.pop();
            int rank = (int) (top >>> 32);
            int pos = (int) top;
            int right = next[pos];
            // Stale entries: the symbol was merged away, or one side has changed since the push.
            if (sym[pos] < 0 || right < 0 || pairRanks.rank(sym[pos], sym[right]) != rank) continue;
            sym[pos] = mergeResult[rank];
            sym[right] = -1;
            int after = next[right];
            next[pos] = after;
            if (after >= 0) prev[after] = pos;
            live--;
            if (prev[pos] >= 0) push(heap, sym[prev[pos]], sym[pos], prev[pos]);
            if (after >= 0) push(heap, sym[pos], sym[after], pos);
        }
        int[] ids = new int[live];
        int k = 0;
        for (int i = 0; i >= 0; i = next[i]) {
            ids[k++] = sym[i];
        }
        return ids;
    }

    private void push(LongHeap heap, int left, int right, int pos) {
        int rank = pairRanks.rank(left, right);
        if (rank >= 0) heap.push(((long) rank << 32) | pos);
    }

    private static String byteLevel(byte[] bytes) {
        char[] chars = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) chars[i] = ByteLevel.charOf(bytes[i] & 0xFF);
        return new String(chars);
    }
}

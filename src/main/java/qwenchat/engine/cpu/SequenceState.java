package qwenchat.engine.cpu;

import qwenchat.engine.kv.BlockTable;
import qwenchat.engine.sampling.TokenHistory;

/**
 * One open sequence: the block table through which its keys and values are found in the
 * {@link PagedKvStore}, the tokens computed so far, and the tokens the penalties look at.
 */
final class SequenceState {

    final int slot;
    final BlockTable table;
    final TokenHistory history = new TokenHistory();
    /** Tokens whose keys and values are written; the block table may already hold room for more. */
    int length;

    SequenceState(int slot, BlockTable table) {
        this.slot = slot;
        this.table = table;
    }

    /** Feeds a prefill's tokens to the penalties: the last {@code generatedTail} as sampled ones. */
    void addToHistory(int[] tokens, int generatedTail) {
        int prompt = tokens.length - generatedTail;
        history.addPrompt(java.util.Arrays.copyOf(tokens, prompt));
        for (int i = prompt; i < tokens.length; i++) history.addGenerated(tokens[i]);
    }
}

package qwenchat.grammar;

import java.util.BitSet;

/**
 * Which token ids may come next in one sequence. Stateful and not thread-safe: one per sequence,
 * used by the scheduler's loop thread only.
 */
public interface TokenConstraint {

    /**
     * The ids allowed for the next token; the caller only reads it.
     *
     * @param remaining how many tokens may still be generated, this one included
     */
    BitSet allowed(int remaining);

    /** Moves past the token the engine picked. */
    void accept(int token);
}

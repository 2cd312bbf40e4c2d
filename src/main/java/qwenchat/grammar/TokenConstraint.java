package qwenchat.grammar;

import java.util.BitSet;

/**
 * Which token ids may come next in one sequence. Stateful and not thread-safe: one per sequence,
 * used by one thread at a time (the scheduler masks a step's rows in parallel, each row on one
 * thread, and joins before the next step).
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

package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** What a step uploads of the device block table; no GPU needed. */
class BlockTableMirrorTest {

    @Test
    void aNewSequenceUploadsItsWholeRowAndAnUnchangedOneNothing() {
        BlockTableMirror m = new BlockTableMirror(4, 8, 100);
        assertEquals(0, m.update(2, new int[] {7, 3, 9}));
        assertEquals(3, m.update(2, new int[] {7, 3, 9}));
        assertEquals(9, m.entry(2, 2));
    }

    @Test
    void aSequenceGrowingIntoANewBlockUploadsOnlyThatEntry() {
        BlockTableMirror m = new BlockTableMirror(4, 8, 100);
        m.update(1, new int[] {40, 12});
        assertEquals(2, m.update(1, new int[] {40, 12, 77}));
        assertEquals(77, m.entry(1, 2));
    }

    @Test
    void aReusedIdWithOtherBlocksIsRewrittenFromTheFirstDifferentEntry() {
        BlockTableMirror m = new BlockTableMirror(4, 8, 100);
        m.update(0, new int[] {5, 6, 7});
        m.forget(0);
        // After a free, even entries that happen to match are uploaded again: the row is rewritten whole.
        assertEquals(0, m.update(0, new int[] {5, 60}));
        assertEquals(1, m.update(0, new int[] {5, 61}));
    }

    @Test
    void sequencesKeepTheirOwnRows() {
        BlockTableMirror m = new BlockTableMirror(3, 4, 20);
        m.update(0, new int[] {1, 2});
        m.update(2, new int[] {3});
        assertEquals(2, m.update(0, new int[] {1, 2}));
        assertEquals(1, m.entry(0, 0));
        assertEquals(3, m.entry(2, 0));
    }

    @Test
    void refusesIdsAndLengthsBeyondTheTableNamingTheLimit() {
        BlockTableMirror m = new BlockTableMirror(2, 3, 10);
        var e = assertThrows(IllegalArgumentException.class, () -> m.update(0, new int[] {1, 2, 3, 4}));
        assertTrue(e.getMessage().contains("over the block table's 3 per sequence"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> m.update(0, new int[] {10}));
        assertTrue(e.getMessage().contains("outside the pool's 0..9"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> m.update(2, new int[] {1}));
        assertTrue(e.getMessage().contains("outside the block table's 0..1"), e.getMessage());
    }
}

package qwenchat.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class StopStringFilterTest {

    @Test
    void holdsBackAPossibleStartOfAStopStringUntilItDiverges() {
        StopStringFilter f = new StopStringFilter(List.of("<END>"));
        assertEquals("Hello ", f.add("Hello <"));
        assertEquals("", f.add("EN"));
        assertEquals("<ENx", f.add("x"));
        assertFalse(f.stopped());
        assertEquals("Hello <ENx", f.text());
    }

    @Test
    void cutsBeforeAStopStringSpreadOverPieces() {
        StopStringFilter f = new StopStringFilter(List.of("\n\nUser:"));
        StringBuilder streamed = new StringBuilder();
        for (String piece : List.of("Sure", ".\n", "\nUs", "er: more", " text")) streamed.append(f.add(piece));
        assertTrue(f.stopped());
        assertEquals("Sure.", streamed.toString());
        assertEquals("Sure.", f.text());
        assertEquals("", f.flush());
    }

    @Test
    void theEarliestOfSeveralStopStringsWins() {
        StopStringFilter f = new StopStringFilter(List.of("bb", "ab"));
        assertEquals("x", f.add("xabb"));
        assertEquals("x", f.text());
    }

    @Test
    void flushReleasesHeldTextWhenTheStreamEnds() {
        StopStringFilter f = new StopStringFilter(List.of("STOP"));
        assertEquals("go ", f.add("go ST"));
        assertEquals("ST", f.flush());
        assertEquals("go ST", f.text());
    }

    @Test
    void withoutStopStringsEveryPieceGoesOutAsItCameAndTheTextIsKept() {
        StopStringFilter f = new StopStringFilter(List.of());
        assertEquals("Hello <", f.add("Hello <"));
        assertEquals("", f.add(""));
        assertEquals("EN", f.add("EN"));
        assertFalse(f.stopped());
        assertEquals("", f.flush());
        assertEquals("Hello <EN", f.text());
    }

    @Test
    void holdsBackTheLongestPendingStartAmongSeveralStopStringsOverManyPieces() {
        StopStringFilter f = new StopStringFilter(List.of("abcd", "bcx", "zz"));
        StringBuilder streamed = new StringBuilder();
        streamed.append(f.add("123ab"));   // "ab" could start "abcd"
        assertEquals("123", streamed.toString());
        streamed.append(f.add("c"));       // "abc" (abcd) and "bc" (bcx) pending: the longer is held
        assertEquals("123", streamed.toString());
        streamed.append(f.add("y z"));     // neither came: released, but "z" could start "zz"
        assertEquals("123abcy ", streamed.toString());
        streamed.append(f.add("z!"));
        assertTrue(f.stopped());
        assertEquals("123abcy ", streamed.toString());
        assertEquals("123abcy ", f.text());
    }
}

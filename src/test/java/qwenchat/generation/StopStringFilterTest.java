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
}

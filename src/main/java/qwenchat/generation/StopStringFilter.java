package qwenchat.generation;

import java.util.List;

/**
 * Streams text while watching for stop strings: text that could be the start of a stop string is
 * held back until it is clear it is not, so a stop string never reaches the client, even in part.
 */
public final class StopStringFilter {

    private final List<String> stops;
    private final StringBuilder text = new StringBuilder();
    private int released;
    private boolean stopped;

    public StopStringFilter(List<String> stops) {
        this.stops = stops;
    }

    /** Adds decoded text and returns what may be sent now. */
    public String add(String piece) {
        if (stopped) return "";
        text.append(piece);
        if (stops.isEmpty()) {
            // Nothing to hold back: the piece goes out as it came, without a copy of the pending text.
            released = text.length();
            return piece;
        }
        int cut = firstStop();
        if (cut >= 0) {
            stopped = true;
            text.setLength(cut);
            return release(cut);
        }
        return release(text.length() - heldBack());
    }

    /** Releases everything held back: the stream ended without completing a stop string. */
    public String flush() {
        return stopped ? "" : release(text.length());
    }

    public boolean stopped() {
        return stopped;
    }

    /** All text so far, cut before a stop string once one has appeared. */
    public String text() {
        return text.toString();
    }

    private String release(int upTo) {
        String out = text.substring(released, upTo);
        released = upTo;
        return out;
    }

    /** Earliest start of any stop string; released text never holds one, so search from there. */
    private int firstStop() {
        int best = -1;
        for (String s : stops) {
            int at = text.indexOf(s, Math.max(0, released));
            if (at >= 0 && (best < 0 || at < best)) best = at;
        }
        return best;
    }

    /** Length of the longest unreleased suffix that is a proper prefix of a stop string. */
    private int heldBack() {
        int end = text.length();
        int pending = end - released;
        int hold = 0;
        for (String s : stops) {
            for (int len = Math.min(pending, s.length() - 1); len > hold; len--) {
                if (endsWithPrefix(end, s, len)) {
                    hold = len;
                    break;
                }
            }
        }
        return hold;
    }

    /** Whether the text's last {@code len} chars before {@code end} are the first {@code len} of {@code stop}. */
    private boolean endsWithPrefix(int end, String stop, int len) {
        int from = end - len;
        for (int i = 0; i < len; i++) if (text.charAt(from + i) != stop.charAt(i)) return false;
        return true;
    }
}

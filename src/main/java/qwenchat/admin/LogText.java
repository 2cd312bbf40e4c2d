package qwenchat.admin;

/**
 * Makes a value safe for a one-line {@code key=value} log record: control characters become
 * visible escapes, so a value can never start a new line, and a value that could be read as more
 * than one token (a space, an '=', a quote, a backslash, nothing at all) is double-quoted with its
 * quotes and backslashes escaped, so it can never imitate another field.
 */
final class LogText {

    private LogText() {
    }

    /** The value as one log token: bare when it is plain, else quoted and escaped; "-" for null. */
    static String quote(String s) {
        if (s == null) return "-";
        if (plain(s)) return s;
        return '"' + escape(s).replace("\"", "\\\"") + '"';
    }

    private static boolean plain(String s) {
        if (s.isEmpty() || s.equals("-")) return false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                    || c == '-' || c == '_' || c == '.' || c == ':' || c == '/';
            if (!ok) return false;
        }
        return true;
    }

    static String escape(String s) {
        if (s == null) return "-";
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            String rep = switch (c) {
                case '\n' -> "\\n";
                case '\r' -> "\\r";
                case '\t' -> "\\t";
                case '\\' -> "\\\\";
                default -> Character.isISOControl(c) || c == '\u2028' || c == '\u2029'
                        ? String.format("\\u%04x", (int) c) : null;
            };
            if (rep != null && b == null) b = new StringBuilder(s.length() + 8).append(s, 0, i);
            if (b != null) {
                if (rep != null) b.append(rep);
                else b.append(c);
            }
        }
        return b == null ? s : b.toString();
    }
}

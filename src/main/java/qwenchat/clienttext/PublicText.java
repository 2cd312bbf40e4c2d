package qwenchat.clienttext;

import java.util.regex.Pattern;

/**
 * What a client may see of a server-side failure message: the reason, without the server's file
 * paths (only the file's own name stays, so "config.json is missing" still says which file) and
 * without Java class names. The full message goes to the log and the admin dashboard.
 */
public final class PublicText {

    /** A path with at least one separator, not part of a URL; group 1 is its last segment. */
    private static final Pattern PATH = Pattern.compile("(?<![\\w:/\\\\.])(?:[A-Za-z]:)?[/\\\\]?(?:[\\w.~@+-]+[/\\\\])+([\\w.~@+-]*)");
    /** A qualified Java class name, e.g. "java.nio.file.NoSuchFileException: " or "qwenchat.web.ClientFrame". */
    private static final Pattern CLASS = Pattern.compile("\\b(?:[a-z_][a-z0-9_]*\\.)+([A-Z][A-Za-z0-9_$]*)(: )?");

    private PublicText() {
    }

    public static String of(String internal) {
        if (internal == null) return null;
        String s = CLASS.matcher(internal).replaceAll(m -> m.group(2) != null ? "" : m.group(1));
        s = PATH.matcher(s).replaceAll(m -> m.group(1).isEmpty() ? "(a directory)" : m.group(1));
        return s;
    }
}

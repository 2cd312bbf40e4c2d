package qwenchat.clienttext;

import java.util.Arrays;
import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.core.exc.InputCoercionException;
import tools.jackson.core.exc.StreamReadException;
import tools.jackson.core.exc.UnexpectedEndOfInputException;
import tools.jackson.databind.exc.InvalidFormatException;
import tools.jackson.databind.exc.MismatchedInputException;
import tools.jackson.databind.exc.UnrecognizedPropertyException;
import tools.jackson.databind.exc.ValueInstantiationException;

/**
 * Turns a Jackson failure into a sentence for the client: which field, and what it should have
 * been. Jackson's own messages name our Java classes and constructors ("Cannot deserialize value
 * of type {@code qwenchat.presets.LocalizedText}"); those belong in the log, never in a response.
 */
public final class JsonProblems {

    private JsonProblems() {
    }

    /** "field X: reason", or "the JSON is not valid: reason" for a syntax error. */
    public static String describe(JacksonException e) {
        String field = path(e);
        if (e instanceof UnexpectedEndOfInputException) {
            return "the JSON ends unexpectedly" + at(e.getLocation());
        }
        if (e instanceof InputCoercionException c) {
            return (field.isEmpty() ? "the body" : "field " + field) + ": is out of range for " + expected(c.getTargetType());
        }
        if (e instanceof StreamReadException && !(e instanceof MismatchedInputException)) {
            return "the JSON is not valid" + at(e.getLocation()) + ": " + firstLine(e.getOriginalMessage());
        }
        String reason;
        if (e instanceof UnrecognizedPropertyException) {
            reason = "is not a known field";
        } else if (e instanceof InvalidFormatException f) {
            reason = "must be " + expected(f.getTargetType()) + ", got " + shown(f.getValue());
        } else if (e instanceof MismatchedInputException m) {
            reason = "must be " + expected(m.getTargetType());
        } else if (e instanceof ValueInstantiationException v && v.getCause() instanceof IllegalArgumentException iae
                && iae.getMessage() != null) {
            reason = "is invalid: " + firstLine(iae.getMessage());
        } else {
            reason = "has a value of the wrong type";
        }
        return (field.isEmpty() ? "the body" : "field " + field) + ": " + reason;
    }

    /** The path of the failing value as the client wrote it, e.g. {@code messages[1].content}; empty for the root. */
    public static String path(JacksonException e) {
        StringBuilder b = new StringBuilder();
        for (JacksonException.Reference r : e.getPath()) {
            if (r.getPropertyName() != null) {
                if (!b.isEmpty()) b.append('.');
                b.append(r.getPropertyName());
            } else if (r.getIndex() >= 0) {
                b.append('[').append(r.getIndex()).append(']');
            }
        }
        return b.toString();
    }

    private static String expected(Class<?> type) {
        if (type == null) return "a value of another type";
        if (type == String.class || type == Character.class || type == char.class) return "a string";
        if (type == Boolean.class || type == boolean.class) return "true or false";
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class
                || type == Short.class || type == short.class) {
            return "an integer";
        }
        if (Number.class.isAssignableFrom(type) || type.isPrimitive()) return "a number";
        if (type.isEnum()) {
            return "one of " + String.join(", ", Arrays.stream(type.getEnumConstants())
                    .map(c -> ((Enum<?>) c).name().toLowerCase(Locale.ROOT)).toList());
        }
        if (type.isArray() || Collection.class.isAssignableFrom(type)) return "an array";
        if (Map.class.isAssignableFrom(type) || type.isRecord() || !type.getName().startsWith("java.")) return "an object";
        return "a value of another type";
    }

    private static String shown(Object value) {
        String s = String.valueOf(value);
        return value instanceof String ? "'" + (s.length() > 40 ? s.substring(0, 40) + "…" : s) + "'" : s;
    }

    private static String at(TokenStreamLocation l) {
        if (l == null || l.getLineNr() < 1) return "";
        return " at line " + l.getLineNr() + ", column " + l.getColumnNr();
    }

    private static String firstLine(String s) {
        if (s == null) return "unexpected content";
        int nl = s.indexOf('\n');
        String line = nl < 0 ? s : s.substring(0, nl);
        return line.length() > 200 ? line.substring(0, 200) + "…" : line;
    }
}

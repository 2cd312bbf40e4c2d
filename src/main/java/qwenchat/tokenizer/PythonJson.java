package qwenchat.tokenizer;

import java.math.BigDecimal;
import java.util.Map;

/**
 * JSON text as Python's {@code json.dumps(x, ensure_ascii=False)} writes it, which is what the
 * {@code tojson} filter of transformers' chat templates produces: {@code ", "} and {@code ": "}
 * separators, keys in insertion order, non-ASCII kept. The prompt must match that byte for byte,
 * because the model was trained on it.
 */
public final class PythonJson {

    private PythonJson() {
    }

    static String dumps(Object value) {
        StringBuilder out = new StringBuilder();
        write(value, out);
        return out.toString();
    }

    private static void write(Object v, StringBuilder out) {
        switch (v) {
            case null -> out.append("null");
            case Boolean b -> out.append(b ? "true" : "false");
            case CharSequence s -> string(s.toString(), out);
            case Double d -> number(d, out);
            case Float f -> number(f.doubleValue(), out);
            case BigDecimal d -> number(d.doubleValue(), out);
            case Number n -> out.append(n);
            case Map<?, ?> m -> {
                out.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) out.append(", ");
                    first = false;
                    string(String.valueOf(e.getKey()), out);
                    out.append(": ");
                    write(e.getValue(), out);
                }
                out.append('}');
            }
            case Iterable<?> list -> {
                out.append('[');
                boolean first = true;
                for (Object o : list) {
                    if (!first) out.append(", ");
                    first = false;
                    write(o, out);
                }
                out.append(']');
            }
            case Object[] array -> write(java.util.Arrays.asList(array), out);
            default -> string(v.toString(), out);
        }
    }

    /** Python's float repr: shortest round-trip digits, exponent form outside [1e-4, 1e16). */
    private static void number(double d, StringBuilder out) {
        if (Double.isNaN(d)) {
            out.append("NaN");
            return;
        }
        if (Double.isInfinite(d)) {
            out.append(d > 0 ? "Infinity" : "-Infinity");
            return;
        }
        BigDecimal exact = new BigDecimal(Double.toString(d));
        double abs = Math.abs(d);
        if (d == 0 || (abs >= 1e-4 && abs < 1e16)) {
            String plain = exact.toPlainString();
            out.append(plain.contains(".") ? plain : plain + ".0");
            return;
        }
        BigDecimal unscaled = exact.stripTrailingZeros();
        String digits = unscaled.unscaledValue().abs().toString();
        int exponent = digits.length() - 1 - unscaled.scale();
        if (d < 0) out.append('-');
        out.append(digits.charAt(0));
        if (digits.length() > 1) out.append('.').append(digits, 1, digits.length());
        out.append('e').append(exponent < 0 ? '-' : '+');
        int e = Math.abs(exponent);
        if (e < 10) out.append('0');
        out.append(e);
    }

    /**
     * {@code s} as a JSON string the way Python's {@code json.dumps(..., ensure_ascii=False)} writes
     * it: the form the chat template renders and the model learned, so constrained decoding
     * expects exactly these bytes for keys and enum values too.
     */
    public static String quote(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2);
        string(s, out);
        return out.toString();
    }

    private static void string(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
                }
            }
        }
        out.append('"');
    }
}

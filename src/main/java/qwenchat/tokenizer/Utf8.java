package qwenchat.tokenizer;

/**
 * UTF-8 decoding with the replacement rule of Rust's {@code String::from_utf8_lossy} (which the
 * Hugging Face decoder uses): each maximal ill-formed subpart becomes one U+FFFD. Written out
 * rather than left to the JDK so streaming and whole decoding provably agree.
 */
final class Utf8 {

    private Utf8() {
    }

    static String decodeLossy(byte[] bytes, int from, int to) {
        StringBuilder sb = new StringBuilder(to - from);
        int i = from;
        while (i < to) {
            int b = bytes[i] & 0xFF;
            if (b < 0x80) {
                sb.append((char) b);
                i++;
                continue;
            }
            int len = sequenceLength(b);
            if (len == 0) {
                sb.append('\uFFFD');
                i++;
                continue;
            }
            int cp = b & (0xFF >> (len + 1));
            int j = 1;
            while (j < len && i + j < to && continuationOk(b, j, bytes[i + j] & 0xFF)) {
                cp = (cp << 6) | (bytes[i + j] & 0x3F);
                j++;
            }
            if (j == len) {
                sb.appendCodePoint(cp);
            } else {
                sb.append('\uFFFD');
            }
            i += j;
        }
        return sb.toString();
    }

    /**
     * How many trailing bytes form the start of a well-formed sequence that more bytes could still
     * complete (0 to 3). Those are the bytes a streaming decoder must hold back.
     */
    static int incompleteTail(byte[] bytes, int from, int to) {
        for (int back = 1; back <= 3 && to - back >= from; back++) {
            int lead = bytes[to - back] & 0xFF;
            if (lead >= 0x80 && lead < 0xC0) continue; // a continuation byte: keep looking for the lead
            int len = sequenceLength(lead);
            if (len <= back) return 0;
            for (int j = 1; j < back; j++) {
                if (!continuationOk(lead, j, bytes[to - back + j] & 0xFF)) return 0;
            }
            return back;
        }
        return 0;
    }

    /** Length of the sequence a lead byte starts, 0 when the byte cannot start one. */
    private static int sequenceLength(int lead) {
        if (lead >= 0xC2 && lead <= 0xDF) return 2;
        if (lead >= 0xE0 && lead <= 0xEF) return 3;
        if (lead >= 0xF0 && lead <= 0xF4) return 4;
        return 0;
    }

    /** Whether byte number {@code index} (1-based after the lead) may follow; the second byte's range excludes overlongs, surrogates and values past U+10FFFF. */
    private static boolean continuationOk(int lead, int index, int b) {
        if (index == 1) {
            return switch (lead) {
                case 0xE0 -> b >= 0xA0 && b <= 0xBF;
                case 0xED -> b >= 0x80 && b <= 0x9F;
                case 0xF0 -> b >= 0x90 && b <= 0xBF;
                case 0xF4 -> b >= 0x80 && b <= 0x8F;
                default -> b >= 0x80 && b <= 0xBF;
            };
        }
        return b >= 0x80 && b <= 0xBF;
    }
}

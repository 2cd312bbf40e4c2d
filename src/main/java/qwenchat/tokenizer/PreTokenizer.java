package qwenchat.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The {@code Split} pre-tokenizer with behaviour {@code Isolated}: every regex match and every gap
 * between matches becomes its own piece.
 *
 * <p>The pattern comes from tokenizer.json, written for Oniguruma. Java reads it the same way once
 * classes are Unicode-aware: with {@code UNICODE_CHARACTER_CLASS}, {@code \s} is the Unicode
 * White_Space property (Oniguruma's {@code \s}: the ASCII controls, U+0085, Zs, Zl, Zp) rather than
 * ASCII only, and {@code (?i:'s...)} folds case by Unicode rules (so {@code 'ſ} matches, as in
 * Oniguruma). {@code \p{L}} and {@code \p{N}} are general categories in both. Both engines are
 * backtracking with leftmost-first alternation, so {@code \s+(?!\S)} leaves the last space of a run
 * in front of a word for the next piece in both.
 */
final class PreTokenizer {

    private final Pattern pattern;

    PreTokenizer(String onigPattern, String source) {
        try {
            this.pattern = Pattern.compile(onigPattern, Pattern.UNICODE_CHARACTER_CLASS | Pattern.UNICODE_CASE);
        } catch (PatternSyntaxException e) {
            throw new TokenizerException(source + ": pre_tokenizer Split regex does not compile in Java: " + e.getMessage(), e);
        }
    }

    List<String> split(String text) {
        List<String> pieces = new ArrayList<>();
        Matcher m = pattern.matcher(text);
        int last = 0;
        while (m.find()) {
            if (m.start() == m.end()) continue; // empty matches split nothing
            if (m.start() > last) pieces.add(text.substring(last, m.start()));
            pieces.add(text.substring(m.start(), m.end()));
            last = m.end();
        }
        if (last < text.length()) pieces.add(text.substring(last));
        return pieces;
    }
}

package qwenchat.tokenizer;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds added tokens in user text the way Hugging Face does with {@code split_special_tokens=True}:
 * leftmost-longest matches over all added tokens, where a match of a special (control) token is
 * left in place as plain text. Non-special added tokens such as {@code <tool_call>} still become
 * their single id, as they do in the reference library.
 */
final class AddedTokenSplitter {

    /** A run of text, or an added token's id when {@code text} is null. */
    record Piece(String text, int tokenId) {
    }

    /** Candidates by first char, longest first, so the first hit at a position is the longest. */
    private final Map<Character, List<AddedToken>> byFirstChar = new HashMap<>();
    /** The first chars of all added tokens, to skip ordinary text without a map lookup. */
    private final BitSet firstChars = new BitSet();

    /** Control tokens (special: true) by their text. */
    private final Map<String, Integer> special = new HashMap<>();

    AddedTokenSplitter(List<AddedToken> tokens) {
        for (AddedToken t : tokens) {
            if (t.special()) special.put(t.content(), t.id());
            byFirstChar.computeIfAbsent(t.content().charAt(0), c -> new ArrayList<>()).add(t);
            firstChars.set(t.content().charAt(0));
        }
        for (List<AddedToken> list : byFirstChar.values()) {
            list.sort(Comparator.comparingInt((AddedToken t) -> t.content().length()).reversed());
        }
    }

    Map<String, Integer> specialTokens() {
        return Map.copyOf(special);
    }

    List<Piece> split(String text) {
        List<Piece> pieces = new ArrayList<>();
        int textStart = 0;
        int i = 0;
        while (i < text.length()) {
            AddedToken match = longestAt(text, i);
            if (match == null) {
                i++;
                continue;
            }
            int end = i + match.content().length();
            if (!match.special()) {
                if (i > textStart) pieces.add(new Piece(text.substring(textStart, i), -1));
                pieces.add(new Piece(null, match.id()));
                textStart = end;
            }
            i = end;
        }
        if (textStart < text.length()) pieces.add(new Piece(text.substring(textStart), -1));
        return pieces;
    }

    private AddedToken longestAt(String text, int i) {
        if (!firstChars.get(text.charAt(i))) return null;
        List<AddedToken> candidates = byFirstChar.get(text.charAt(i));
        if (candidates == null) return null;
        for (AddedToken t : candidates) {
            if (text.startsWith(t.content(), i)) return t;
        }
        return null;
    }
}

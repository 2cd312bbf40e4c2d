package qwenchat.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * Qwen2 byte-level BPE tokenizer, read from tokenizer.json. Thread-safe after construction.
 *
 * <p>Encoding follows the pipeline the file describes, as the Hugging Face tokenizers library runs
 * it: added tokens are split out of the raw text, each remaining run is NFC-normalized, split by the
 * pre-tokenizer regex, mapped to byte-level symbols and merged by rank. Control tokens
 * ({@code special: true}, such as {@code <|im_start|>}) are never recognised in text given to
 * {@link #encode}; only {@link ChatTemplate} emits their ids. Non-special added tokens (such as
 * {@code <tool_call>}) are matched, as the reference does with {@code split_special_tokens=True}.
 *
 * <p>Known difference from the reference library: NFC uses the JDK's Unicode tables, the reference
 * older ones that lack marks added since Unicode 10 (e.g. U+1DF9), so such a mark next to another
 * mark may be reordered differently. The regex classes ({@code \p{L}}, {@code \p{N}},
 * {@code \s}) showed no such difference on the test corpus.
 */
public final class QwenTokenizer {

    static final String BUNDLED_RESOURCE = "/qwen2.5/tokenizer.json.gz";

    private final boolean nfc;
    private final PreTokenizer preTokenizer;
    private final BpeModel bpe;
    private final AddedTokenSplitter addedTokens;
    private final Map<String, Integer> addedIds;
    private final byte[][] idBytes; // [vocabularySize] bytes each id decodes to

    QwenTokenizer(boolean nfc, PreTokenizer preTokenizer, BpeModel bpe, AddedTokenSplitter addedTokens,
                  Map<String, Integer> addedIds, byte[][] idBytes) {
        this.nfc = nfc;
        this.preTokenizer = preTokenizer;
        this.bpe = bpe;
        this.addedTokens = addedTokens;
        this.addedIds = Map.copyOf(addedIds);
        this.idBytes = idBytes;
    }

    /** Reads {@code dir/tokenizer.json}; the chat template is read separately ({@link ChatTemplate#forDirectory}). */
    public static QwenTokenizer load(Path dir) {
        Path file = dir.resolve("tokenizer.json");
        try {
            return TokenizerJsonReader.read(Files.newInputStream(file), file.toString());
        } catch (NoSuchFileException e) {
            throw new TokenizerException(file + ": no such file (expected a Hugging Face tokenizer.json in " + dir + ")", e);
        } catch (IOException e) {
            throw new TokenizerException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** The real Qwen2.5 tokenizer bundled in the jar, parsed once on first use. */
    public static QwenTokenizer bundled() {
        return BundledHolder.INSTANCE;
    }

    private static final class BundledHolder {
        static final QwenTokenizer INSTANCE = readBundled();

        private static QwenTokenizer readBundled() {
            String source = "classpath:" + BUNDLED_RESOURCE;
            InputStream raw = QwenTokenizer.class.getResourceAsStream(BUNDLED_RESOURCE);
            if (raw == null) throw new TokenizerException(source + ": missing from the classpath");
            try {
                return TokenizerJsonReader.read(new GZIPInputStream(raw, 1 << 16), source);
            } catch (IOException e) {
                throw new TokenizerException(source + ": cannot read: " + e.getMessage(), e);
            }
        }
    }

    /** Encodes plain text: special-token strings inside it are encoded as literal text. */
    public int[] encode(String text) {
        IntList ids = new IntList();
        encodeInto(text, ids);
        return ids.toArray();
    }

    /**
     * Encodes a raw prompt whose author writes the whole text, template included: control-token
     * text becomes the control token (as the reference does by default). Never use it for text
     * that is only part of a conversation; {@link ChatTemplate} keeps such text plain.
     */
    public int[] encodeWithControlTokens(String text) {
        Map<String, Integer> control = addedTokens.specialTokens();
        IntList ids = new IntList();
        int from = 0;
        for (int i = 0; i < text.length(); i++) {
            String hit = null;
            for (String c : control.keySet()) {
                if (text.startsWith(c, i) && (hit == null || c.length() > hit.length())) hit = c;
            }
            if (hit == null) continue;
            encodeInto(text.substring(from, i), ids);
            ids.add(control.get(hit));
            i += hit.length() - 1;
            from = i + 1;
        }
        encodeInto(text.substring(from), ids);
        return ids.toArray();
    }

    void encodeInto(String text, IntList ids) {
        for (AddedTokenSplitter.Piece piece : addedTokens.split(replaceLoneSurrogates(text))) {
            if (piece.text() == null) {
                ids.add(piece.tokenId());
                continue;
            }
            String normalized = nfc ? Normalizer.normalize(piece.text(), Normalizer.Form.NFC) : piece.text();
            for (String word : preTokenizer.split(normalized)) {
                bpe.encodeWord(word, ids);
            }
        }
    }

    /** Decodes ids, special tokens included as their text; invalid UTF-8 becomes U+FFFD as in Hugging Face's decoder. */
    public String decode(int[] ids) {
        ByteBuffer bytes = new ByteBuffer();
        for (int id : ids) bytes.append(bytesOf(id));
        return Utf8.decodeLossy(bytes.array(), 0, bytes.size());
    }

    public IncrementalDecoder newIncrementalDecoder() {
        return new IncrementalDecoder(this);
    }

    /** Id of a special/added token such as {@code <|im_end|>}. */
    public int specialTokenId(String token) {
        Integer id = addedIds.get(token);
        if (id == null) {
            throw new TokenizerException("'" + token + "' is not an added/special token of this tokenizer");
        }
        return id;
    }

    /** The control tokens ({@code special: true} added tokens) by their text; only a template may emit them. */
    public Map<String, Integer> controlTokens() {
        return addedTokens.specialTokens();
    }

    /** The UTF-8 bytes id {@code id} stands for (a copy), which may be part of a character. */
    public byte[] tokenBytes(int id) {
        return bytesOf(id).clone();
    }

    /** Total ids, added tokens included. */
    public int vocabularySize() {
        return idBytes.length;
    }

    private static final byte[] NO_BYTES = new byte[0];

    byte[] bytesOf(int id) {
        if (id < 0) {
            throw new TokenizerException("token id " + id + " is negative");
        }
        // Models pad the vocabulary past the tokenizer (151665 ids; embeddings of 151936 or 152064
        // rows). A padding id has no text, and Hugging Face's decode skips it; so do we, because a
        // sampler can pick one (random demo weights do).
        return id < idBytes.length ? idBytes[id] : NO_BYTES;
    }

    /** A Java string may hold unpaired surrogates, which UTF-8 cannot encode; they become U+FFFD. */
    private static String replaceLoneSurrogates(String text) {
        StringBuilder sb = null;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i); // an unpaired surrogate comes back as itself
            boolean lone = cp >= Character.MIN_SURROGATE && cp <= Character.MAX_SURROGATE;
            if (lone && sb == null) sb = new StringBuilder(text.length()).append(text, 0, i);
            if (sb != null) sb.appendCodePoint(lone ? 0xFFFD : cp);
            i += Character.charCount(cp);
        }
        return sb == null ? text : sb.toString();
    }
}

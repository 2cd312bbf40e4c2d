package qwenchat.tokenizer;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * A deterministic corpus for checking the tokenizer against the reference library: hand-picked
 * hard cases per script and feature, random mixtures of them, and random Unicode fuzz.
 */
final class TokenizerCorpus {

    static final long SEED = 0x5157454EL; // fixed: the corpus must be the same on every run

    /** Hand-picked strings, one feature each. */
    static final List<String> SAMPLES = List.of(
            "Hello, world!", "hello world", " leading space", "trailing space ", "  two leading", "",
            "你好，世界！今天天气很好。", "我爱北京天安门", "人工智能正在改变世界的面貌。",
            "こんにちは、世界。カタカナとひらがな、漢字。", "東京タワーは333メートルです。",
            "안녕하세요, 세계! 한국어 문장입니다.", "مرحبا بالعالم، هذه جملة عربية.", "السلام عليكم ورحمة الله",
            "Привет, мир! Ёжик в тумане.", "ПРИВЕТ МИР", "नमस्ते दुनिया, यह हिंदी है।", "สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่าง",
            "Γειά σου Κόσμε", "שלום עולם", "Xin chào thế giới, tiếng Việt có dấu.",
            "👨‍👩‍👧‍👦 family", "🏳️‍🌈 rainbow flag", "👩🏽‍💻 coder", "🇯🇵🇺🇸🇩🇪 flags", "🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland",
            "emoji😀😃😄😁 run", "❤️‍🔥", "1️⃣2️⃣#️⃣",
            "def f(x):\n\tif x:\n\t\treturn 1\n    return 0\n",
            "public static void main(String[] args) {\n    System.out.println(\"hi\");\n}\n",
            "{\"name\": \"Qwen\", \"values\": [1, 2.5, -3e10], \"ok\": true, \"none\": null}",
            "{\n  \"a\": {\n    \"b\": [\n      {}\n    ]\n  }\n}",
            "a    b     c      d", "\n\n\n", "line1\nline2\n\nline3", "   \n   \n", "\t\t\tindented", " \t \n \t ",
            "windows\r\nline\r\nendings\r\n", "\r\n\r\n", "\r", "mixed \r\n\n\r end",
            "I'm you're he's we've they'll I'd it's", "I'M YOU'RE HE'S WE'VE THEY'LL I'D IT'S",
            "'S 'T 'RE 'VE 'M 'LL 'D", "'s 't 're 've 'm 'll 'd", "don't DON'T Don'T", "'ſ long s", "x'Ll y'rE",
            "12345678901234567890", "3.14159265358979", "1,000,000 and 2 000 000", "٠١٢٣٤٥ Arabic digits", "²³¹ ½ Ⅻ ⑩",
            "café", "cafe\u0301", "\u00c5ngstr\u00f6m", "A\u030angstro\u0308m", "\u1100\u1161\u11a8", "한", "\u212b", "e\u0301\u0302\u0323",
            "a\u3000b\u00a0c\u2028d\u2029e\u0085f\u1680g\u2003h", "zero\u200bwidth\u200cjoin\u200dx", "\ufeffbom", "tab\u000bvt\u000cff",
            "<tool_call>\n{\"name\": \"f\"}\n</tool_call>", "<|fim_prefix|>code<|fim_suffix|>", "<tool_call", "</tool_call>x",
            "!!!???...,,,;;;", "a-b_c.d/e\\f", "http://example.com/path?q=1&r=2#frag", "user@example.com", "$100 €200 ¥300 £400",
            "((()))[[[]]]{{{}}}", "<html><body class=\"x\">Hi</body></html>", "SELECT * FROM t WHERE a = 'b';",
            "Ω≈ç√∫˜µ≤≥÷", "𝕳𝖊𝖑𝖑𝖔 𝔀𝓸𝓻𝓵𝓭", "𠀀𠀁𠀂 CJK ext B", "ᚠᛇᚻ runes", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂", "ーーーーー", "。。。", "\u0000nul\u0001ctl\u007f");

    private static final String[] WORDS = {
            "the", "The", "THE", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Qwen", "model", "tokenizer",
            "中文", "模型", "分词器", "测试", "日本語", "テスト", "한국어", "토큰", "العربية", "русский", "язык", "हिन्दी",
            "ภาษาไทย", "ελληνικά", "עברית", "naïve", "façade", "Straße", "İstanbul", "ǅemal", "𝒳", "🙂", "👍🏼", "🇫🇷",
            "👨‍💻", "x", "_", "__init__", "camelCase", "snake_case", "kebab-case", "SCREAMING_CASE"};
    private static final String[] PUNCT = {
            ".", ",", "!", "?", ";", ":", "...", "—", "–", "-", "(", ")", "[", "]", "{", "}", "\"", "'", "`", "«", "»",
            "“", "”", "‘", "’", "。", "，", "、", "！", "？", "：", "；", "「", "」", "%", "#", "@", "&", "*", "+", "=",
            "<", ">", "/", "\\", "|", "~", "^", "$", "€"};
    private static final String[] SPACE = {
            " ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r\n\r\n", " \n", "\n ", "  \n  ", "\u3000",
            "\u00a0", " \t\n", "\n\n\n\n", "        "};
    private static final String[] CONTRACTIONS = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE",
            "'M", "'LL", "'D", "'Re", "'rE", "'lL"};
    private static final int[][] COMBINING_RANGES = {
            {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A}, {0x064B, 0x065F}, {0x0900, 0x0903},
            {0x093A, 0x094F}, {0x0E31, 0x0E3A}, {0x1AB0, 0x1ABE}, {0x1DC0, 0x1DF5}, {0x20D0, 0x20F0}, {0xFE20, 0xFE2F},
            {0x3099, 0x309A}, {0x1F3FB, 0x1F3FF}, {0xFE00, 0xFE0F}};

    private TokenizerCorpus() {
    }

    /** About 1,500 distinct strings, the same on every run. */
    static List<String> build() {
        Random random = new Random(SEED);
        Set<String> corpus = new LinkedHashSet<>(SAMPLES);
        for (int i = 0; i < 700; i++) corpus.add(mixture(random));
        for (int i = 0; i < 600; i++) corpus.add(fuzz(random));
        for (String s : List.copyOf(corpus)) {
            String nfd = Normalizer.normalize(s, Normalizer.Form.NFD);
            if (!nfd.equals(s) && random.nextInt(3) == 0) corpus.add(nfd);
        }
        return new ArrayList<>(corpus);
    }

    private static String mixture(Random random) {
        StringBuilder sb = new StringBuilder();
        int parts = 1 + random.nextInt(12);
        for (int p = 0; p < parts; p++) {
            switch (random.nextInt(7)) {
                case 0, 1 -> sb.append(pick(random, WORDS));
                case 2 -> sb.append(pick(random, PUNCT));
                case 3 -> sb.append(pick(random, SPACE));
                case 4 -> sb.append(pick(random, CONTRACTIONS));
                case 5 -> digits(random, sb);
                default -> sb.append(pick(random, SAMPLES));
            }
        }
        return sb.toString();
    }

    private static void digits(Random random, StringBuilder sb) {
        int n = 1 + random.nextInt(random.nextBoolean() ? 4 : 40);
        for (int i = 0; i < n; i++) sb.append((char) ('0' + random.nextInt(10)));
    }

    /**
     * Random valid scalar values, weighted towards the classes the pre-tokenizer tells apart.
     *
     * <p>Combining marks come only from {@link #COMBINING_RANGES}, all encoded by Unicode 9: the
     * reference library normalizes with older tables than the JDK's, so a mark added later (say
     * U+1DF9, combining class 220, from Unicode 10) is reordered by the JDK's NFC and left alone by
     * the reference. That is a difference of Unicode versions, not of tokenization, and is documented
     * on QwenTokenizer.
     */
    static String fuzz(Random random) {
        StringBuilder sb = new StringBuilder();
        int n = 1 + random.nextInt(40);
        for (int i = 0; i < n; i++) {
            int kind = random.nextInt(10);
            int cp = randomCodePoint(random, kind);
            while (kind != 3 && isMark(cp)) cp = randomCodePoint(random, kind);
            sb.appendCodePoint(cp);
        }
        return sb.toString();
    }

    private static boolean isMark(int cp) {
        int type = Character.getType(cp);
        return type == Character.NON_SPACING_MARK || type == Character.COMBINING_SPACING_MARK
                || type == Character.ENCLOSING_MARK;
    }

    private static int randomCodePoint(Random random, int kind) {
        return switch (kind) {
            case 0, 1 -> 0x20 + random.nextInt(0x5F);                 // printable ASCII
            case 2 -> " \t\n\r\u000b\u000c\u0085\u00a0\u3000\u2028".charAt(random.nextInt(10));
            case 3 -> {
                int[] r = COMBINING_RANGES[random.nextInt(COMBINING_RANGES.length)];
                yield r[0] + random.nextInt(r[1] - r[0] + 1);
            }
            case 4, 5 -> 0x80 + random.nextInt(0x3000 - 0x80);          // Latin-1 up to the scripts of the BMP
            case 6 -> 0x3000 + random.nextInt(0xD800 - 0x3000);         // CJK, Hangul
            case 7 -> 0xE000 + random.nextInt(0x10000 - 0xE000);        // private use, compatibility, specials
            default -> 0x10000 + random.nextInt(0x110000 - 0x10000);    // astral planes
        };
    }

    private static String pick(Random random, String[] pool) {
        return pool[random.nextInt(pool.length)];
    }

    private static String pick(Random random, List<String> pool) {
        return pool.get(random.nextInt(pool.size()));
    }
}

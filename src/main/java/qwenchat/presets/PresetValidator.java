package qwenchat.presets;

import java.util.List;
import java.util.regex.Pattern;
import qwenchat.clienttext.InputText;
import qwenchat.clienttext.InvalidTextException;

/**
 * Checks a client-supplied preset field by field. Limits keep one preset small enough to sit in
 * every chat request's system turn and the presets file small enough to rewrite on each edit.
 */
public final class PresetValidator {

    public static final int MAX_ID = 64;
    public static final int MAX_NAME = 80;
    public static final int MAX_DESCRIPTION = 500;
    public static final int MAX_SYSTEM_PROMPT = 8000;
    public static final int MAX_GREETING = 1000;
    public static final int MAX_EXAMPLES = 8;
    public static final int MAX_EXAMPLE = 500;
    public static final int MAX_TOKENS = 32768;

    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]*");

    private PresetValidator() {
    }

    /** Returns the preset as stored: trimmed names, a missing translation filled from the other language. */
    public static Preset validate(Preset p) {
        if (p == null) throw new PresetValidationException("preset", "is missing");
        checkId(p.id());
        LocalizedText name = required("name", p.name(), MAX_NAME);
        LocalizedText description = optional("description", p.description(), MAX_DESCRIPTION);
        String systemPrompt = wellFormed("systemPrompt", p.systemPrompt() == null ? "" : p.systemPrompt());
        if (systemPrompt.length() > MAX_SYSTEM_PROMPT) {
            throw new PresetValidationException("systemPrompt", "is " + systemPrompt.length()
                    + " characters; the limit is " + MAX_SYSTEM_PROMPT);
        }
        LocalizedText greeting = optional("greeting", p.greeting(), MAX_GREETING);
        List<String> examples = p.examples();
        if (examples.size() > MAX_EXAMPLES) {
            throw new PresetValidationException("examples", "has " + examples.size() + " entries; the limit is " + MAX_EXAMPLES);
        }
        for (int i = 0; i < examples.size(); i++) {
            String e = examples.get(i);
            if (e == null || e.isBlank()) throw new PresetValidationException("examples[" + i + "]", "is empty");
            wellFormed("examples[" + i + "]", e);
            if (e.length() > MAX_EXAMPLE) {
                throw new PresetValidationException("examples[" + i + "]", "is " + e.length()
                        + " characters; the limit is " + MAX_EXAMPLE);
            }
        }
        checkSampling(p.sampling());
        return new Preset(p.id(), name, description, systemPrompt, p.sampling(), greeting, examples, p.builtin());
    }

    public static void checkId(String id) {
        if (id == null || id.isEmpty()) throw new PresetValidationException("id", "is missing");
        wellFormed("id", id);
        if (id.length() > MAX_ID) {
            throw new PresetValidationException("id", "is " + id.length() + " characters; the limit is " + MAX_ID);
        }
        if (!ID.matcher(id).matches()) {
            throw new PresetValidationException("id", "'" + id + "' must be lowercase letters, digits and '-', starting with a letter or digit");
        }
    }

    static void checkSampling(PresetSampling s) {
        if (s.temperature() != null && !(s.temperature() >= 0 && s.temperature() <= 2)) {
            throw new PresetValidationException("sampling.temperature", "must be in [0, 2], got " + s.temperature());
        }
        if (s.topP() != null && !(s.topP() > 0 && s.topP() <= 1)) {
            throw new PresetValidationException("sampling.topP", "must be in (0, 1], got " + s.topP());
        }
        if (s.topK() != null && !(s.topK() >= 0 && s.topK() <= 1000)) {
            throw new PresetValidationException("sampling.topK", "must be in [0, 1000], got " + s.topK());
        }
        if (s.repetitionPenalty() != null && !(s.repetitionPenalty() > 0 && s.repetitionPenalty() <= 2)) {
            throw new PresetValidationException("sampling.repetitionPenalty", "must be in (0, 2], got " + s.repetitionPenalty());
        }
        if (s.maxTokens() != null && !(s.maxTokens() >= 1 && s.maxTokens() <= MAX_TOKENS)) {
            throw new PresetValidationException("sampling.maxTokens", "must be in [1, " + MAX_TOKENS + "], got " + s.maxTokens());
        }
    }

    private static LocalizedText required(String field, LocalizedText t, int limit) {
        LocalizedText v = optional(field, t, limit);
        if (v.en().isEmpty()) throw new PresetValidationException(field, "needs an English or Chinese text");
        return v;
    }

    private static LocalizedText optional(String field, LocalizedText t, int limit) {
        String en = t == null || t.en() == null ? "" : wellFormed(field + ".en", t.en()).strip();
        String zh = t == null || t.zh() == null ? "" : wellFormed(field + ".zh", t.zh()).strip();
        if (en.length() > limit) {
            throw new PresetValidationException(field + ".en", "is " + en.length() + " characters; the limit is " + limit);
        }
        if (zh.length() > limit) {
            throw new PresetValidationException(field + ".zh", "is " + zh.length() + " characters; the limit is " + limit);
        }
        return new LocalizedText(en.isEmpty() ? zh : en, zh.isEmpty() ? en : zh);
    }

    private static String wellFormed(String field, String value) {
        try {
            return InputText.wellFormed(field, value);
        } catch (InvalidTextException e) {
            throw new PresetValidationException(e.field(), e.reason());
        }
    }
}

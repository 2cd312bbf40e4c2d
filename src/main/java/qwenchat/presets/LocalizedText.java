package qwenchat.presets;

/** A short text in English and Chinese; the page picks one by UI language and falls back to the other. */
public record LocalizedText(String en, String zh) {
}

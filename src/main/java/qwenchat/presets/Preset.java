package qwenchat.presets;

import java.util.ArrayList;
import java.util.List;
import qwenchat.tokenizer.ChatMessage;

/**
 * A role prompt: what the assistant is told to be, how it samples, and how the page introduces it.
 *
 * @param builtin true for the read-only presets shipped in the jar (set by the store, never by clients)
 * @param examples prompts the page offers as one-click starters
 */
public record Preset(
        String id,
        LocalizedText name,
        LocalizedText description,
        String systemPrompt,
        PresetSampling sampling,
        LocalizedText greeting,
        List<String> examples,
        Boolean builtin) {

    public Preset {
        builtin = Boolean.TRUE.equals(builtin);
        sampling = sampling == null ? PresetSampling.NONE : sampling;
        examples = examples == null ? List.of() : List.copyOf(examples);
    }

    /**
     * The conversation as this preset frames it: its system prompt goes first unless the
     * conversation brings its own system message (the user's choice wins).
     */
    public List<ChatMessage> framing(List<ChatMessage> messages) {
        boolean ownSystem = !messages.isEmpty() && "system".equals(messages.get(0).role());
        if (ownSystem || systemPrompt == null || systemPrompt.isEmpty()) return messages;
        List<ChatMessage> turns = new ArrayList<>(messages.size() + 1);
        turns.add(new ChatMessage("system", systemPrompt));
        turns.addAll(messages);
        return turns;
    }

    Preset withBuiltin(boolean value) {
        return new Preset(id, name, description, systemPrompt, sampling, greeting, examples, value);
    }

    Preset withId(String value) {
        return new Preset(value, name, description, systemPrompt, sampling, greeting, examples, builtin);
    }
}

package qwenchat.web;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.model.GenerationConfig;
import qwenchat.presets.Preset;
import qwenchat.presets.PresetSampling;
import qwenchat.serving.ServedModel;
import qwenchat.tokenizer.ChatMessage;
import qwenchat.tokenizer.RenderedPrompt;

/**
 * Applies a preset to a conversation and renders it: the preset's system prompt unless the
 * conversation brings its own, and sampling as user setting over preset default over the model's
 * generation_config.
 */
public final class ChatPreparer {

    private static final Set<String> ROLES = Set.of("system", "user", "assistant");

    private ChatPreparer() {
    }

    /** The conversation as the model will see it, ending with the assistant's turn opened. */
    public static RenderedPrompt render(ServedModel model, Preset preset, List<ChatMessage> messages, int maxMessages) {
        if (messages == null) messages = List.of();
        validate(messages, maxMessages);
        List<ChatMessage> turns = preset.framing(messages);
        if (turns.isEmpty()) {
            // Only the template's default system turn: what an empty chat with an empty preset costs.
            return model.chatTemplate().render(List.of(new ChatMessage("user", "")), true);
        }
        return model.chatTemplate().render(turns, true);
    }

    private static void validate(List<ChatMessage> messages, int maxMessages) {
        if (messages.size() > maxMessages) {
            throw new ChatRejection(ChatRejection.INVALID_REQUEST,
                    "the conversation has " + messages.size() + " messages; the limit is " + maxMessages);
        }
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            if (m == null || m.role() == null || !ROLES.contains(m.role())) {
                throw new ChatRejection(ChatRejection.INVALID_REQUEST,
                        "messages[" + i + "].role must be system, user or assistant");
            }
            if (m.content() == null) {
                throw new ChatRejection(ChatRejection.INVALID_REQUEST, "messages[" + i + "].content is missing");
            }
        }
    }

    public static PreparedChat prepare(ServedModel model, Preset preset, List<ChatMessage> messages,
            ChatParams params, int defaultMaxTokens, int maxMessages) {
        if (messages == null || messages.isEmpty()) {
            throw new ChatRejection(ChatRejection.INVALID_REQUEST, "messages is empty");
        }
        validate(messages, maxMessages);
        if (!messages.get(messages.size() - 1).role().equals("user")) {
            throw new ChatRejection(ChatRejection.INVALID_REQUEST, "the last message must be the user's");
        }
        RenderedPrompt prompt = render(model, preset, messages, maxMessages);
        int promptTokens = prompt.ids().length;
        int context = model.contextLength();
        if (promptTokens >= context) {
            throw new ChatRejection(ChatRejection.CONTEXT_OVERFLOW, "the conversation is " + promptTokens
                    + " tokens but the context window is " + context + " tokens (at least 1 must be left for the reply); "
                    + "shorten or delete earlier messages, or start a new chat");
        }
        ChatParams p = params == null ? ChatParams.NONE : params;
        PresetSampling ps = preset.sampling();
        int maxTokens = first(p.maxTokens(), ps.maxTokens(), defaultMaxTokens);
        if (maxTokens < 1) {
            throw new ChatRejection(ChatRejection.INVALID_REQUEST, "params.maxTokens must be >= 1, got " + maxTokens);
        }
        return new PreparedChat(prompt, sampling(model.generationDefaults(), ps, p),
                Math.min(maxTokens, context - promptTokens), preset.id());
    }

    static SamplingParams sampling(GenerationConfig g, PresetSampling ps, ChatParams p) {
        long seed = p.seed() != null ? p.seed() : ThreadLocalRandom.current().nextLong();
        SamplingParams base = SamplingParams.defaults(g, seed);
        double temperature = first(p.temperature(), ps.temperature(), base.temperature());
        if (temperature > 2) {
            throw new ChatRejection(ChatRejection.INVALID_REQUEST, "params.temperature must be in [0, 2], got " + temperature);
        }
        try {
            return new SamplingParams(
                    temperature,
                    first(p.topK(), ps.topK(), base.topK()),
                    first(p.topP(), ps.topP(), base.topP()),
                    first(p.minP(), null, base.minP()),
                    first(p.repetitionPenalty(), ps.repetitionPenalty(), base.repetitionPenalty()),
                    0, 0, seed);
        } catch (IllegalArgumentException e) {
            throw new ChatRejection(ChatRejection.INVALID_REQUEST, "params." + e.getMessage());
        }
    }

    private static <T> T first(T user, T preset, T model) {
        return user != null ? user : preset != null ? preset : model;
    }
}

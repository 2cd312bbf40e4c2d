package qwenchat.web;

import java.util.List;
import java.util.Set;
import qwenchat.presets.Preset;
import qwenchat.sampling.SamplingChoice;
import qwenchat.sampling.SamplingPolicy;
import qwenchat.serving.ServedModel;
import qwenchat.tokenizer.ChatMessage;
import qwenchat.tokenizer.RenderedPrompt;

/**
 * Applies a preset to a conversation and renders it: the preset's system prompt unless the
 * conversation brings its own; sampling and length are {@link SamplingPolicy}'s decision.
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
            ChatParams params, SamplingPolicy policy, int maxMessages) {
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
        if (p.temperature() != null && p.temperature() > 2) {
            throw new ChatRejection(ChatRejection.INVALID_REQUEST, "params.temperature must be in [0, 2], got " + p.temperature());
        }
        SamplingPolicy.Resolved resolved;
        try {
            resolved = policy.resolve(new SamplingChoice(p.temperature(), p.topP(), p.topK(), p.minP(), p.repetitionPenalty(),
                    null, null, p.seed(), p.maxTokens()), preset.sampling(), model.generationDefaults(), context - promptTokens);
        } catch (IllegalArgumentException e) {
            throw new ChatRejection(ChatRejection.INVALID_REQUEST, "params." + e.getMessage());
        }
        // The chat page asks for "as long as it may be": a limit beyond the context is cut to fit rather than refused.
        return new PreparedChat(prompt, resolved.sampling(), Math.min(resolved.maxTokens(), context - promptTokens), preset.id());
    }
}

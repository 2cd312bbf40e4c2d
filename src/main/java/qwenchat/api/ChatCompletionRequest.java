package qwenchat.api;

import java.util.List;
import tools.jackson.databind.JsonNode;
import qwenchat.tokenizer.ChatMessage;
import qwenchat.tools.ToolChoice;
import qwenchat.tools.ToolDefinition;

/**
 * A validated {@code POST /v1/chat/completions} body. Absent sampling fields are null; what they
 * become is {@link qwenchat.sampling.SamplingPolicy}'s decision.
 *
 * @param maxTokens {@code max_completion_tokens} or {@code max_tokens}; null means up to the context limit
 * @param seed null means a fresh random seed
 * @param topLogprobs alternatives per token; meaningful only with {@code logprobs}
 * @param jsonObject {@code response_format: {type: json_object}}
 * @param jsonSchema the schema of {@code response_format: {type: json_schema}}, or null
 * @param preset a role-prompt preset id: its system prompt and sampling defaults apply under the request's own values
 * @param toolChoice NONE when no tools were given
 * @param rawPrompt the whole prompt of a legacy {@code /v1/completions} request (then {@code messages}
 *     is empty), or null for a chat
 * @param n how many choices (1..8), each its own generation
 */
record ChatCompletionRequest(
        String model,
        List<ChatMessage> messages,
        Integer maxTokens,
        Double temperature,
        Double topP,
        Integer topK,
        Double minP,
        Double repetitionPenalty,
        List<String> stop,
        Long seed,
        Double presencePenalty,
        Double frequencyPenalty,
        boolean logprobs,
        int topLogprobs,
        boolean stream,
        boolean includeUsage,
        boolean jsonObject,
        JsonNode jsonSchema,
        String user,
        String preset,
        List<ToolDefinition> tools,
        ToolChoice toolChoice,
        boolean parallelToolCalls,
        String rawPrompt,
        int n) {

    /** Whether the model's output is read for tool calls (tools offered and not switched off). */
    boolean toolsActive() {
        return !tools.isEmpty() && toolChoice.mode() != ToolChoice.Mode.NONE;
    }
}

package qwenchat.api;

import java.util.List;
import qwenchat.tokenizer.ChatMessage;

/**
 * A validated {@code POST /v1/chat/completions} body. Absent sampling fields are null and take the
 * model's generation_config.json defaults.
 *
 * @param maxTokens {@code max_completion_tokens} or {@code max_tokens}; null means up to the context limit
 * @param seed null means a fresh random seed
 * @param topLogprobs alternatives per token; meaningful only with {@code logprobs}
 * @param jsonObject {@code response_format: {type: json_object}}
 * @param preset a role-prompt preset id: its system prompt and sampling defaults apply under the request's own values
 */
record ChatCompletionRequest(
        String model,
        List<ChatMessage> messages,
        Integer maxTokens,
        Double temperature,
        Double topP,
        Integer topK,
        Double repetitionPenalty,
        List<String> stop,
        Long seed,
        double presencePenalty,
        double frequencyPenalty,
        boolean logprobs,
        int topLogprobs,
        boolean stream,
        boolean includeUsage,
        boolean jsonObject,
        String user,
        String preset) {
}

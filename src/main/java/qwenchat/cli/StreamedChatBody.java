package qwenchat.cli;

import tools.jackson.databind.node.ObjectNode;

/**
 * The chat completion load-test sends, without its messages: streamed, with usage at the end, and
 * with log-probabilities, so every token comes as a chunk of its own (also one whose text is held
 * back, such as part of a UTF-8 character) and is timed and counted.
 */
final class StreamedChatBody {

    private StreamedChatBody() {
    }

    static ObjectNode of(int maxTokens, double temperature) {
        ObjectNode body = TokenizerArgs.JSON.createObjectNode();
        body.put("model", "qwen");
        body.put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        body.put("max_tokens", maxTokens);
        body.put("temperature", temperature);
        body.put("logprobs", true);
        return body;
    }
}

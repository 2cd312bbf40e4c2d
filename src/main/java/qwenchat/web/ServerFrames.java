package qwenchat.web;

import java.util.List;

/** The frames the server sends; each carries its {@code type} so the page can switch on it. */
public final class ServerFrames {

    private ServerFrames() {
    }

    public record Status(
            String type,
            String state,
            String stage,
            String stageDescription,
            double percent,
            long bytesDone,
            long bytesTotal,
            int tensorsDone,
            int tensorsTotal,
            String currentTensor,
            Long etaMillis,
            String error,
            String modelName,
            boolean demo,
            List<Stage> stages,
            Model model) {
    }

    public record Stage(String stage, String description, long startedAtEpochMillis, Long durationMillis) {
    }

    /** Present once the model is ready: what the settings panel and the context meter need. */
    public record Model(String name, boolean demo, int contextLength, String engine, String device, Defaults defaults) {
    }

    public record Defaults(double temperature, double topP, int topK, double repetitionPenalty, int maxTokens) {
    }

    public record Start(String type, String id, int promptTokens, int contextLength, int maxTokens, String presetId) {
        public Start(String id, int promptTokens, int contextLength, int maxTokens, String presetId) {
            this("start", id, promptTokens, contextLength, maxTokens, presetId);
        }
    }

    public record Delta(String type, String id, String text) {
        public Delta(String id, String text) {
            this("delta", id, text);
        }
    }

    public record Usage(int promptTokens, int completionTokens, int totalTokens) {
    }

    /** {@code error} is null for a normal end; for {@code finishReason: "timeout"} it says why the reply is cut off. */
    public record Done(
            String type,
            String id,
            String finishReason,
            Usage usage,
            long queueMillis,
            long ttftMillis,
            long totalMillis,
            double tokensPerSecond,
            String error) {
    }

    public record Error(String type, String id, String code, String message) {
        public Error(String id, String code, String message) {
            this("error", id, code, message);
        }
    }

    public record CountResult(String type, String ref, int tokens, int contextLength) {
        public CountResult(String ref, int tokens, int contextLength) {
            this("count_result", ref, tokens, contextLength);
        }
    }
}

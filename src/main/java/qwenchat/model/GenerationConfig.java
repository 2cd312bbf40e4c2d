package qwenchat.model;

import java.util.List;

/**
 * Sampling defaults and stop ids from {@code generation_config.json}. Qwen2.5-Instruct ships
 * temperature 0.7, top_p 0.8, top_k 20, repetition_penalty 1.05 and eos ids 151645, 151643.
 */
public record GenerationConfig(
        List<Integer> eosTokenIds,
        Integer bosTokenId,
        Integer padTokenId,
        boolean doSample,
        double temperature,
        double topP,
        int topK,
        double repetitionPenalty) {

    public GenerationConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    /** What applies when a checkpoint has no generation_config.json: greedy, eos from config. */
    public static GenerationConfig greedy(List<Integer> eosTokenIds) {
        return new GenerationConfig(eosTokenIds, null, null, false, 1.0, 1.0, 0, 1.0);
    }
}

package qwenchat.serving;

import qwenchat.engine.EngineInfo;
import qwenchat.model.GenerationConfig;
import qwenchat.model.ModelConfig;
import qwenchat.tokenizer.ChatTemplate;
import qwenchat.tokenizer.QwenTokenizer;

/**
 * What the web layers need from a loaded model: no engine handle, which only the scheduler holds.
 *
 * @param name display name (directory name, or "demo weights (random)")
 * @param contextLength tokens per sequence the server accepts (min of model context and KV capacity)
 */
public record ServedModel(
        String name,
        String sourceDirectory,
        boolean demo,
        ModelConfig config,
        GenerationConfig generationDefaults,
        QwenTokenizer tokenizer,
        ChatTemplate chatTemplate,
        EngineInfo engine,
        int contextLength) {
}

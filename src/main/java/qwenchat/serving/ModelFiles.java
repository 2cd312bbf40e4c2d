package qwenchat.serving;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import qwenchat.model.GenerationConfig;
import qwenchat.model.ModelConfig;
import qwenchat.model.ModelConfigParser;
import qwenchat.tokenizer.QwenTokenizer;
import qwenchat.weights.Checkpoint;

/**
 * A model directory whose files were read and checked against each other: config, generation
 * defaults, tokenizer and checkpoint headers. The checkpoint is open; close it when done.
 */
record ModelFiles(Path dir, ModelConfig config, GenerationConfig generation, QwenTokenizer tokenizer,
        Checkpoint checkpoint) implements AutoCloseable {

    static ModelFiles open(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("model directory " + dir + " does not exist or is not a directory");
        }
        Path configFile = dir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new IllegalArgumentException(configFile + ": no such file (a Hugging Face model directory holds config.json)");
        }
        ModelConfig config = ModelConfigParser.parseConfig(configFile);
        QwenTokenizer tokenizer = QwenTokenizer.load(dir);
        if (tokenizer.vocabularySize() > config.vocabSize()) {
            throw new IllegalArgumentException(dir.resolve("tokenizer.json") + ": the tokenizer has "
                    + tokenizer.vocabularySize() + " ids but config.json's vocab_size is " + config.vocabSize());
        }
        Path genFile = dir.resolve("generation_config.json");
        GenerationConfig generation = Files.isRegularFile(genFile)
                ? ModelConfigParser.parseGenerationConfig(genFile)
                // Without generation_config.json, stop at the end-of-turn and end-of-text tokens.
                : GenerationConfig.greedy(List.of(tokenizer.specialTokenId("<|im_end|>"),
                        tokenizer.specialTokenId("<|endoftext|>")));
        Checkpoint checkpoint = Checkpoint.open(dir);
        try {
            checkpoint.validateAgainst(config);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
        return new ModelFiles(dir, config, generation, tokenizer, checkpoint);
    }

    @Override
    public void close() {
        checkpoint.close();
    }
}

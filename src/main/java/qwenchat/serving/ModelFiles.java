package qwenchat.serving;

import qwenchat.weights.ModelDirectory;
import qwenchat.tokenizer.QwenTokenizer;
import qwenchat.weights.Checkpoint;

/**
 * A model directory whose files were read and checked against each other: config, generation
 * defaults, tokenizer and checkpoint headers. The checkpoint is open; close it when done.
 */
record ModelFiles(ModelDirectory directory, QwenTokenizer tokenizer, Checkpoint checkpoint) implements AutoCloseable {

    static ModelFiles open(ModelDirectory dir) {
        QwenTokenizer tokenizer = dir.tokenizer();
        if (tokenizer.vocabularySize() > dir.config().vocabSize()) {
            throw new IllegalArgumentException(dir.dir() + ": the tokenizer has " + tokenizer.vocabularySize()
                    + " ids but config.json's vocab_size is " + dir.config().vocabSize());
        }
        Checkpoint checkpoint = dir.openCheckpoint();
        try {
            checkpoint.validateAgainst(dir.config());
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
        return new ModelFiles(dir, tokenizer, checkpoint);
    }

    @Override
    public void close() {
        checkpoint.close();
    }
}

package qwenchat.engine.placement;

import qwenchat.model.ModelConfig;

/** Qwen2.5 shapes as their published config.json files give them. */
final class QwenShapes {

    private QwenShapes() {
    }

    static ModelConfig qwen(int hidden, int intermediate, int layers, int heads, int kvHeads, int vocab, boolean tied) {
        return new ModelConfig("qwen2", hidden, intermediate, layers, heads, kvHeads, hidden / heads, vocab, 32768, 1e6,
                1e-6, tied, null, "bfloat16");
    }

    static final ModelConfig QWEN_3B = qwen(2048, 11008, 36, 16, 2, 151936, true);
    static final ModelConfig QWEN_7B = qwen(3584, 18944, 28, 28, 4, 152064, false);
    static final ModelConfig QWEN_14B = qwen(5120, 13824, 48, 40, 8, 152064, false);
    static final ModelConfig QWEN_32B = qwen(5120, 27648, 64, 40, 8, 152064, false);
    static final ModelConfig QWEN_72B = qwen(8192, 29568, 80, 64, 8, 152064, false);
}

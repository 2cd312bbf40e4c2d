package qwenchat.engine.kv;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import qwenchat.model.ModelConfig;

class KvCacheSizingTest {

    /** Qwen2.5-7B: 28 layers, 4 KV heads of 128: 56 KiB of bf16 keys and values per token. */
    private static final long QWEN_7B_BF16_PER_TOKEN = 2L * 28 * 4 * 128 * 2;

    @Test
    void bytesPerTokenCountKeysAndValuesOfEveryLayer() {
        ModelConfig c = new ModelConfig("qwen2", 3584, 18944, 28, 28, 4, 128, 152064, 32768, 1e6, 1e-6, false, null,
                "bfloat16");
        assertThat(KvCacheSizing.bytesPerToken(c, 2)).isEqualTo(QWEN_7B_BF16_PER_TOKEN).isEqualTo(56 * 1024);
        assertThat(KvCacheSizing.bytesPerToken(c, 4)).isEqualTo(2 * QWEN_7B_BF16_PER_TOKEN);
    }

    @Test
    void aBudgetBuysWholeBlocksAndTheLogLineSaysWhatThatMeans() {
        long budget = 3584L * 64 * QWEN_7B_BF16_PER_TOKEN + 1000; // the remainder buys no partial block
        KvCacheSizing s = KvCacheSizing.of(budget, QWEN_7B_BF16_PER_TOKEN, 64, 32768);
        assertThat(s.totalBlocks()).isEqualTo(3584);
        assertThat(s.totalTokens()).isEqualTo(229_376);
        assertThat(s.conversations(8192)).isEqualTo(28);
        assertThat(s.logLine()).isEqualTo("KV cache: 229,376 tokens in 3,584 blocks of 64 (12.3 GiB): 28 conversations of 8K");
        assertThat(s.maxTokensPerSequence()).isEqualTo(32768);
    }

    @Test
    void aPoolSmallerThanTheContextCapsTheLongestSequence() {
        KvCacheSizing s = KvCacheSizing.ofTokens(1000, 100, 16, 32768);
        assertThat(s.totalBlocks()).isEqualTo(63);
        assertThat(s.maxTokensPerSequence()).isEqualTo(1008);
    }

    @Test
    void aBudgetBelowOneBlockIsRefusedNamingBothSizes() {
        assertThatThrownBy(() -> KvCacheSizing.of(1000, 100, 16, 4096))
                .hasMessageContaining("1000 bytes")
                .hasMessageContaining("one block of 16 tokens (1600 bytes)");
    }

    @Test
    void theProcessMayUseTheUtilizationShareOfTheDeviceAndNoShareOutsideZeroToOne() {
        long gib = 1L << 30;
        assertThat(KvCacheSizing.allowedBytes(80 * gib, 0.9)).isEqualTo(72 * gib);
        assertThat(KvCacheSizing.allowedBytes(80 * gib, 1.0)).isEqualTo(80 * gib);
        assertThatThrownBy(() -> KvCacheSizing.allowedBytes(16 * gib, 1.5)).hasMessageContaining("gpu-memory-utilization");
        assertThatThrownBy(() -> KvCacheSizing.allowedBytes(16 * gib, 0)).hasMessageContaining("gpu-memory-utilization");
    }

    @Test
    void aPoolSmallerThanOneConversationSaysWhatItHolds() {
        KvCacheSizing s = KvCacheSizing.of(4096L * 1024, 1024, 64, 32768);
        assertThat(s.logLine()).isEqualTo("KV cache: 4,096 tokens in 64 blocks of 64 (4.0 MiB): one conversation of up to 4096 tokens");
    }
}

package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import qwenchat.engine.KvBlockUsage;
import qwenchat.engine.KvCacheCapacity;

class KvAdmissionTest {

    @Test
    void admitsWhileFreeBlocksLessCommittedOnesAndTheWatermarkCoverThePrompt() {
        KvBlockUsage usage = new KvBlockUsage(1000, 100, 16); // watermark: 10 blocks
        assertThat(KvAdmission.watermarkBlocks(1000)).isEqualTo(10);
        assertThat(KvAdmission.admits(usage, 0, 90 * 16, false)).isTrue();
        assertThat(KvAdmission.admits(usage, 0, 90 * 16 + 1, false)).isFalse();
        assertThat(KvAdmission.admits(usage, 5, 85 * 16, false)).isTrue();
        assertThat(KvAdmission.admits(usage, 5, 86 * 16, false)).isFalse();
    }

    @Test
    void withNothingRunningARequestAsLargeAsTheWholePoolStarts() {
        KvBlockUsage empty = new KvBlockUsage(1000, 1000, 16);
        assertThat(KvAdmission.admits(empty, 0, 1000 * 16, true)).isTrue();
        assertThat(KvAdmission.admits(empty, 0, 1000 * 16, false)).isFalse();
    }

    @Test
    void aRequestBeyondTheWholePoolIsNamedWithBothNumbers() {
        KvCacheCapacity cap = new KvCacheCapacity(8, 1600, 16, 100);
        assertThat(KvAdmission.neverFits(1000, 600, cap, 1600)).isNull();
        assertThat(KvAdmission.neverFits(1000, 601, cap, 1600)).isEqualTo("the prompt has 1000 tokens and max tokens is"
                + " 601, together 1601, more than the context size of 1600 tokens, the 1600 tokens the whole KV cache"
                + " holds (100 blocks of 16)");
        assertThat(KvAdmission.neverFits(1000, 601, cap, 4096))
                .endsWith("more than the 1600 tokens the whole KV cache holds (100 blocks of 16)");
    }

    @Test
    void aRequestBeyondTheContextOfALargePoolNamesTheContext() {
        KvCacheCapacity cap = new KvCacheCapacity(8, 4096, 16, 10_000);
        assertThat(KvAdmission.neverFits(100, 4000, cap, 4096)).endsWith("together 4100, more than the context size of 4096 tokens");
    }
}

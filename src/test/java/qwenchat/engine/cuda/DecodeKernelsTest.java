package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Which kernel variants the decode switches select, without a GPU. */
class DecodeKernelsTest {

    @Test
    void attentionGroupsTakeTheNarrowestCompiledBucketThatHoldsThem() {
        assertEquals(4, CudaKernels.groupBucket(1));
        assertEquals(4, CudaKernels.groupBucket(4));
        // Qwen2.5's groups: 0.5B 7 (14/2), 1.5B 6, 3B 8, 7B 7, 14B 5, 32B 5, 72B 8.
        for (int g = 5; g <= 8; g++) assertEquals(8, CudaKernels.groupBucket(g), "group " + g);
        assertEquals(16, CudaKernels.groupBucket(9));
        assertEquals(16, CudaKernels.groupBucket(CudaKernels.ATTN_MAX_GROUP));
    }

    @Test
    void attentionGroupsOutsideTheKernelsRangeAreRejectedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaKernels.groupBucket(CudaKernels.ATTN_MAX_GROUP + 1));
        assertTrue(e.getMessage().contains("attention group"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CudaKernels.groupBucket(0));
    }

    @Test
    void theNormIsFoldedOnlyIntoPassesTheNormKernelsHaveTilesFor() {
        DecodeKernels on = new DecodeKernels(true, true, true, true);
        assertTrue(on.foldsNorm(1));
        assertTrue(on.foldsNorm(DecodeKernels.FOLDED_NORM_MAX_ROWS));
        assertFalse(on.foldsNorm(DecodeKernels.FOLDED_NORM_MAX_ROWS + 1));
        assertFalse(DecodeKernels.original().foldsNorm(1));
    }

    @Test
    void defaultsFollowTheDocumentedSwitchDefaults() {
        DecodeKernels d = DecodeKernels.defaults();
        assertEquals(DecodeKernels.GROUP_BUCKETS_DEFAULT, d.groupBuckets());
        assertEquals(DecodeKernels.FUSED_ATTENTION_DEFAULT, d.fusedAttention());
        assertEquals(DecodeKernels.FOLDED_NORM_DEFAULT, d.foldedNorm());
        assertEquals(DecodeKernels.MIXED_STEPS_DEFAULT, d.mixedSteps());
        assertEquals(DecodeKernels.SPLIT_GEMV_DEFAULT, d.splitGemv());
        assertEquals(DecodeKernels.STREAMED_NORM_DEFAULT, d.streamedNorm());
        assertEquals(DecodeKernels.MMA_ATTENTION_DEFAULT, d.mmaAttention());
        assertEquals(DecodeKernels.LATE_ATTENTION_TRIGGER_DEFAULT, d.lateAttentionTrigger());
        assertEquals(DecodeKernels.DIRECT_SHORT_ROWS_DEFAULT, d.directShortRows());
        assertEquals(d, CudaEngine.Options.defaults().kernels());
    }

    @Test
    void theFourSwitchFormAndTheOriginalKernelsLeaveTheLaterSwitchesOff() {
        for (DecodeKernels d : new DecodeKernels[] {new DecodeKernels(true, true, true, true), DecodeKernels.original()}) {
            assertFalse(d.splitGemv());
            assertFalse(d.streamedNorm());
            assertFalse(d.mmaAttention());
        }
        DecodeKernels d = DecodeKernels.defaults().withSplitGemv(false).withStreamedNorm(false).withMmaAttention(false);
        assertFalse(d.splitGemv() || d.streamedNorm() || d.mmaAttention());
        assertEquals(DecodeKernels.defaults().groupBuckets(), d.groupBuckets());
        assertEquals(DecodeKernels.defaults().foldedNorm(), d.foldedNorm());
    }

    @Test
    void engineOptionsNeedAKernelChoiceAndAPrefillTile() {
        assertThrows(IllegalArgumentException.class, () -> new CudaEngine.Options(0, true, true, true, true, false, null,
                PrefillAttention.Tiles.DEFAULT));
        assertThrows(IllegalArgumentException.class, () -> new CudaEngine.Options(0, true, true, true, true, false,
                DecodeKernels.defaults(), null));
    }

    @Test
    void theNewSwitchesDefaultAsMeasuredAndChangeAlone() {
        DecodeKernels d = DecodeKernels.defaults();
        assertEquals(DecodeKernels.ATTENTION_SPANS_DEFAULT, d.attentionSpans());
        assertEquals(DecodeKernels.SPLIT_NORM_GEMV_DEFAULT, d.splitNormGemv());
        DecodeKernels off = d.withAttentionSpans(false).withSplitNormGemv(false);
        assertFalse(off.attentionSpans() || off.splitNormGemv());
        assertEquals(d.withAttentionSpans(false).withSplitNormGemv(false), off.withMmaAttention(d.mmaAttention()));
        assertEquals(d, off.withAttentionSpans(d.attentionSpans()).withSplitNormGemv(d.splitNormGemv()));
        // The seven-switch constructor keeps the kernels before these two: one tile a block, the norm GEMVs split as the rest.
        DecodeKernels seven = new DecodeKernels(true, false, true, true, true, true, true);
        assertFalse(seven.attentionSpans());
        assertTrue(seven.splitNormGemv());
        assertFalse(seven.dependentLaunch());
        assertEquals(DecodeKernels.DEPENDENT_LAUNCH_DEFAULT, d.dependentLaunch());
        assertEquals(d, d.withDependentLaunch(false).withDependentLaunch(d.dependentLaunch()));
        assertFalse(d.withDependentLaunch(false).dependentLaunch());
        // The ten-switch constructor (the variant test's) keeps the plan from before directShortRows: short rows one block a row.
        assertTrue(new DecodeKernels(true, false, true, true, true, true, true, true, true, true).directShortRows());
    }
    @Test
    void eachWithMethodChangesItsOwnSwitchAndNoOther() {
        record Named(String name, java.util.function.BiFunction<DecodeKernels, Boolean, DecodeKernels> with,
                     java.util.function.Predicate<DecodeKernels> get) {
        }
        List<Named> switches = List.of(new Named("mixedSteps", DecodeKernels::withMixedSteps, DecodeKernels::mixedSteps),
                new Named("splitGemv", DecodeKernels::withSplitGemv, DecodeKernels::splitGemv),
                new Named("streamedNorm", DecodeKernels::withStreamedNorm, DecodeKernels::streamedNorm),
                new Named("mmaAttention", DecodeKernels::withMmaAttention, DecodeKernels::mmaAttention),
                new Named("attentionSpans", DecodeKernels::withAttentionSpans, DecodeKernels::attentionSpans),
                new Named("splitNormGemv", DecodeKernels::withSplitNormGemv, DecodeKernels::splitNormGemv),
                new Named("dependentLaunch", DecodeKernels::withDependentLaunch, DecodeKernels::dependentLaunch),
                new Named("splitQkvGemv", DecodeKernels::withSplitQkvGemv, DecodeKernels::splitQkvGemv),
                new Named("lateAttentionTrigger", DecodeKernels::withLateAttentionTrigger, DecodeKernels::lateAttentionTrigger),
                new Named("directShortRows", DecodeKernels::withDirectShortRows, DecodeKernels::directShortRows));
        DecodeKernels none = new DecodeKernels(false, false, false, false, false, false, false, false, false, false, false, false,
                false);
        DecodeKernels all = new DecodeKernels(true, true, true, true, true, true, true, true, true, true, true, true, true);
        for (Named n : switches) {
            DecodeKernels one = n.with().apply(none, true);
            DecodeKernels allButOne = n.with().apply(all, false);
            assertTrue(n.get().test(one) && !n.get().test(allButOne), n.name());
            for (Named other : switches) {
                if (other == n) continue;
                assertFalse(other.get().test(one), n.name() + " also set " + other.name());
                assertTrue(other.get().test(allButOne), n.name() + " also cleared " + other.name());
            }
            assertFalse(one.groupBuckets() || one.fusedAttention() || one.foldedNorm(), n.name());
        }
    }
}

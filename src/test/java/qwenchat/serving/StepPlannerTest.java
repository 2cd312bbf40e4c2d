package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import qwenchat.generation.GenerationRequest;

import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import qwenchat.engine.BiasMask;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.LabPass;
import qwenchat.generation.Priority;
import qwenchat.engine.sampling.SamplingParams;

/** What the planner puts into a step, on an engine that only keeps the KV books. */
class StepPlannerTest {

    private long clock;

    /** A prompt of its own for every id; see {@link #sequence(String, int, int)} for shared ones. */
    private ScheduledSequence sequence(String id, int promptLength) {
        return sequence(id, promptLength, 1000 * id.charAt(0));
    }

    private ScheduledSequence sequence(String id, int promptLength, int firstToken) {
        int[] prompt = new int[promptLength];
        for (int i = 0; i < promptLength; i++) prompt[i] = firstToken + i;
        GenerationRequest r = new GenerationRequest(id, prompt, 32, SamplingParams.greedyDecoding(), List.of(), 0);
        return new ScheduledSequence(r, null, ++clock, Long.MAX_VALUE, promptLength + 32, () -> { });
    }

    /** A bias-lab run: background priority, {@code ablating} whether it drops biases. */
    private ScheduledSequence lab(String id, int promptLength, int firstToken, boolean ablating) {
        int[] prompt = new int[promptLength];
        for (int i = 0; i < promptLength; i++) prompt[i] = firstToken + i;
        BiasMask mask = ablating ? BiasMask.ablate(2, 0, 1, BiasMask.K) : BiasMask.none(2);
        GenerationRequest r = new GenerationRequest(id, prompt, 32, SamplingParams.greedyDecoding(), List.of(), 0, null,
                Priority.BACKGROUND, new LabPass(mask, null));
        return new ScheduledSequence(r, null, ++clock, Long.MAX_VALUE, promptLength + 32, () -> { });
    }

    /** A running sequence whose prompt is prefilled and which decodes from now on. */
    private ScheduledSequence decoding(BookkeepingEngine e, String id, int promptLength) {
        return decoding(e, sequence(id, promptLength));
    }

    private static ScheduledSequence decoding(BookkeepingEngine e, ScheduledSequence s) {
        s.slot = e.openSequence();
        e.blocks.appendAll(new int[] {s.slot}, new int[][] {s.feedTokens()});
        s.prefilled = true;
        s.addGenerated(7);
        s.lastToken = 7;
        return s;
    }

    private static List<String> ids(List<StepPlan.Work> work) {
        return work.stream().map(w -> w.sequence().requestId() + (w.decode() ? ":decode" : ":" + w.tokens())).toList();
    }

    @Test
    void runningDecodesComeFirstAndPrefillChunksFillTheRestOfTheBudget() {
        BookkeepingEngine e = new BookkeepingEngine(new KvCacheCapacity(8, 4096, 16, 100));
        ScheduledSequence a = decoding(e, "a", 10);
        ScheduledSequence b = decoding(e, "b", 10);
        ScheduledSequence c = sequence("c", 100);
        ScheduledSequence d = sequence("d", 5);
        StepPlan plan = new StepPlanner(32, true).plan(List.of(a, b), List.of(c, d), e);
        assertThat(ids(plan.work())).containsExactly("a:decode", "b:decode", "c:30");
        assertThat(plan.admit()).extracting(StepPlan.Admission::sequence).containsExactly(c);
        assertThat(plan.work().get(2).lastChunk()).isFalse();
        assertThat(plan.budgetLeft()).isZero();
    }

    @Test
    void aSequenceStillPrefillingGetsItsNextChunkBeforeNewcomersDo() {
        BookkeepingEngine e = new BookkeepingEngine(new KvCacheCapacity(8, 4096, 16, 100));
        ScheduledSequence a = decoding(e, "a", 10);
        ScheduledSequence c = sequence("c", 100);
        c.slot = e.openSequence();
        e.blocks.appendAll(new int[] {c.slot}, new int[][] {java.util.Arrays.copyOf(c.feedTokens(), 80)});
        ScheduledSequence n = sequence("n", 50);
        StepPlan plan = new StepPlanner(40, true).plan(List.of(a, c), List.of(n), e);
        assertThat(ids(plan.work())).containsExactly("a:decode", "c:20", "n:19");
        assertThat(plan.work().get(1).lastChunk()).isTrue();
        assertThat(plan.work().get(2).lastChunk()).isFalse();
    }

    @Test
    void aNewcomerStartsOnItsCachedPrefixAndPrefillsOnlyTheRest() {
        BookkeepingEngine e = new BookkeepingEngine(new KvCacheCapacity(8, 4096, 16, 100));
        ScheduledSequence warm = decoding(e, sequence("warm", 40, 5)); // fills two blocks of the shared prefix
        ScheduledSequence n = sequence("n", 45, 5);
        StepPlan cached = new StepPlanner(2048, true).plan(List.of(warm), List.of(n), e);
        assertThat(cached.admit()).containsExactly(new StepPlan.Admission(n, true, 32));
        assertThat(ids(cached.work())).containsExactly("warm:decode", "n:13");
        StepPlan uncached = new StepPlanner(2048, false).plan(List.of(warm), List.of(n), e);
        assertThat(uncached.admit()).containsExactly(new StepPlan.Admission(n, false, 0));
        assertThat(ids(uncached.work())).containsExactly("warm:decode", "n:45");
    }

    @Test
    void whenThePoolCannotHoldTheStepTheNewestGiveWayAndNobodyIsAdmitted() {
        BookkeepingEngine e = new BookkeepingEngine(new KvCacheCapacity(8, 4096, 4, 6));
        ScheduledSequence a = decoding(e, "a", 8); // two full blocks: its decode needs a third
        ScheduledSequence b = decoding(e, "b", 8);
        ScheduledSequence c = decoding(e, "c", 8);
        StepPlan plan = new StepPlanner(64, true).plan(List.of(a, b, c), List.of(sequence("n", 2)), e);
        // Three blocks needed, none free: c's two make room for a and b.
        assertThat(plan.preempt()).containsExactly(c);
        assertThat(ids(plan.work())).containsExactly("a:decode", "b:decode");
        assertThat(plan.admit()).isEmpty();
    }

    @Test
    void nobodyIsAdmittedWhenDecodesTakeTheWholeBudgetOrNoSlotIsFree() {
        BookkeepingEngine e = new BookkeepingEngine(new KvCacheCapacity(2, 4096, 16, 100));
        ScheduledSequence a = decoding(e, "a", 10);
        ScheduledSequence b = decoding(e, "b", 10);
        assertThat(new StepPlanner(1, true).plan(List.of(a), List.of(sequence("n", 3)), e).work()).hasSize(1);
        assertThat(new StepPlanner(64, true).plan(List.of(a, b), List.of(sequence("n", 3)), e).admit()).isEmpty();
    }

    @Test
    void aPreemptedSequenceIsRecomputedFromItsPromptAndItsGeneratedTokens() {
        BookkeepingEngine e = new BookkeepingEngine(new KvCacheCapacity(8, 4096, 16, 100));
        ScheduledSequence p = sequence("p", 20);
        for (int i = 0; i < 5; i++) p.addGenerated(7);
        StepPlan plan = new StepPlanner(2048, true).plan(List.of(), List.of(p), e);
        assertThat(ids(plan.work())).containsExactly("p:25");
    }

    @Test
    void aBackgroundNewcomerWaitsWhileAnInteractiveOneDoes() {
        BookkeepingEngine e = new BookkeepingEngine(new KvCacheCapacity(2, 4096, 16, 100));
        ScheduledSequence a = decoding(e, "a", 10);
        ScheduledSequence l = lab("l", 10, 500, true);
        ScheduledSequence n = sequence("n", 10);
        StepPlan oneSlot = new StepPlanner(64, true).plan(List.of(a), List.of(l, n), e);
        assertThat(oneSlot.admit()).extracting(StepPlan.Admission::sequence).containsExactly(n);

        BookkeepingEngine roomy = new BookkeepingEngine(new KvCacheCapacity(4, 4096, 16, 100));
        StepPlan both = new StepPlanner(64, true).plan(List.of(), List.of(l, n), roomy);
        assertThat(ids(both.work())).containsExactly("n:10", "l:10");
    }

    @Test
    void aBackgroundNewcomerIsNotAdmittedWhenTheInteractiveOneAheadDoesNotFit() {
        BookkeepingEngine e = new BookkeepingEngine(new KvCacheCapacity(8, 4096, 4, 6));
        ScheduledSequence a = decoding(e, "a", 8); // two blocks, its decode takes a third: three left
        ScheduledSequence big = sequence("big", 20); // five blocks: does not fit
        ScheduledSequence l = lab("l", 2, 500, false); // one block: would fit
        StepPlan plan = new StepPlanner(64, true).plan(List.of(a), List.of(l, big), e);
        assertThat(plan.admit()).isEmpty();
    }

    @Test
    void whenThePoolRunsShortABackgroundSequenceGivesWayBeforeANewerInteractiveOne() {
        BookkeepingEngine e = new BookkeepingEngine(new KvCacheCapacity(8, 4096, 4, 6));
        ScheduledSequence a = decoding(e, "a", 8);
        ScheduledSequence l = decoding(e, lab("l", 8, 500, false));
        ScheduledSequence c = decoding(e, "c", 8);
        StepPlan plan = new StepPlanner(64, true).plan(List.of(a, l, c), List.of(), e);
        assertThat(plan.preempt()).containsExactly(l);
        assertThat(ids(plan.work())).containsExactly("a:decode", "c:decode");
    }

    @Test
    void aLabRunThatDropsBiasesNeverStartsOnCachedBlocksButALiveOneMay() {
        BookkeepingEngine e = new BookkeepingEngine(new KvCacheCapacity(8, 4096, 16, 100));
        ScheduledSequence warm = decoding(e, sequence("warm", 40, 5));
        StepPlan ablated = new StepPlanner(2048, true).plan(List.of(warm), List.of(lab("x", 45, 5, true)), e);
        assertThat(ablated.admit().getFirst().reuseCache()).isFalse();
        assertThat(ids(ablated.work())).containsExactly("warm:decode", "x:45");
        StepPlan live = new StepPlanner(2048, true).plan(List.of(warm), List.of(lab("y", 45, 5, false)), e);
        assertThat(live.admit().getFirst().cachedTokens()).isEqualTo(32);
    }

    /** Room for a 40K-token prompt: 4000 blocks of 16. */
    private static final KvCacheCapacity LONG_PROMPTS = new KvCacheCapacity(8, 65536, 16, 4000);

    /** The bookkeeping engine reporting {@code breakEven} as its attention break-even. */
    private static BookkeepingEngine attentionCounting(int breakEven) {
        return new BookkeepingEngine(LONG_PROMPTS) {
            @Override
            public int attentionBreakEven() {
                return breakEven;
            }
        };
    }

    /** A running sequence of a {@code promptLength} prompt whose first {@code held} tokens are prefilled. */
    private ScheduledSequence prefilling(BookkeepingEngine e, String id, int promptLength, int held) {
        ScheduledSequence s = sequence(id, promptLength);
        s.slot = e.openSequence();
        e.blocks.appendAll(new int[] {s.slot}, new int[][] {java.util.Arrays.copyOf(s.feedTokens(), held)});
        return s;
    }

    @Test
    void aLateChunkOfALongPromptIsChargedForItsAttentionSoItIsSmallerAndDecodesStillComeFirst() {
        BookkeepingEngine e = attentionCounting(8192);
        ScheduledSequence a = decoding(e, "a", 10);
        ScheduledSequence b = decoding(e, "b", 10);
        ScheduledSequence c = prefilling(e, "c", 40_000, 30_000);
        StepPlan plan = new StepPlanner(2048, true).plan(List.of(a, b, c), List.of(), e);
        // 2046 left after the decodes; 436 tokens after 30000 cost 436 + 436 * (60000 + 435) / 16384
        // = 436 + 1608.3, so 2045; 437 would cost 2050.
        assertThat(ids(plan.work())).containsExactly("a:decode", "b:decode", "c:436");
        assertThat(plan.budgetLeft()).isEqualTo(1);
    }

    @Test
    void anEarlyChunkOfTheSamePromptGetsNearlyTheWholeBudget() {
        BookkeepingEngine e = attentionCounting(8192);
        ScheduledSequence a = decoding(e, "a", 10);
        StepPlan plan = new StepPlanner(2049, true).plan(List.of(a), List.of(sequence("c", 40_000)), e);
        // 2048 left after the decode; 1841 + 1841 * 1840 / 16384 = 1841 + 206.8, so 2048 exactly.
        assertThat(ids(plan.work())).containsExactly("a:decode", "c:1841");
        assertThat(plan.budgetLeft()).isZero();
    }

    @Test
    void withNoStreamDecodingALatePromptChunkTakesTheWholeBudgetInTokens() {
        BookkeepingEngine e = attentionCounting(8192);
        ScheduledSequence c = prefilling(e, "c", 40_000, 30_000);
        StepPlan plan = new StepPlanner(2048, true).plan(List.of(c), List.of(), e);
        // Charged for its attention it would have been 436 tokens; nobody waits on this step but the prompt.
        assertThat(ids(plan.work())).containsExactly("c:2048");
        assertThat(plan.budgetLeft()).isZero();
    }

    @Test
    void aNewcomerOnACachedPrefixIsChargedForAttendingToThatPrefix() {
        BookkeepingEngine e = attentionCounting(8192);
        ScheduledSequence warm = decoding(e, sequence("warm", 3200, 5)); // 200 full blocks, all cached
        ScheduledSequence n = sequence("n", 4000, 5);
        StepPlan plan = new StepPlanner(512, true).plan(List.of(warm), List.of(n), e);
        assertThat(plan.admit()).containsExactly(new StepPlan.Admission(n, true, 3200));
        // 511 left; 361 tokens after 3200 cost 361 + 361 * (6400 + 360) / 16384 = 361 + 148.9, so 510.
        // Counted as if nothing were held it would have been 496.
        assertThat(ids(plan.work())).containsExactly("warm:decode", "n:361");
    }

    @Test
    void withBreakEvenZeroAChunkTakesAllTheBudgetTheDecodesLeaveWhereverItSits() {
        BookkeepingEngine e = attentionCounting(0);
        ScheduledSequence a = decoding(e, "a", 10);
        ScheduledSequence c = prefilling(e, "c", 40_000, 30_000);
        StepPlan plan = new StepPlanner(2048, true).plan(List.of(a, c), List.of(sequence("n", 100)), e);
        assertThat(ids(plan.work())).containsExactly("a:decode", "c:2047");
        assertThat(plan.budgetLeft()).isZero();
    }

    @Test
    void theSettingOverridesTheEnginesBreakEvenEitherWay() {
        BookkeepingEngine counting = attentionCounting(8192);
        ScheduledSequence b = decoding(counting, "b", 10);
        ScheduledSequence c = prefilling(counting, "c", 40_000, 30_000);
        StepPlan tokensOnly = new StepPlanner(2049, true, OptionalInt.of(0)).plan(List.of(b, c), List.of(), counting);
        assertThat(ids(tokensOnly.work())).containsExactly("b:decode", "c:2048");

        BookkeepingEngine plain = attentionCounting(0);
        ScheduledSequence d = prefilling(plain, "d", 5000, 3000);
        ScheduledSequence a = decoding(plain, "a", 10);
        StepPlan counted = new StepPlanner(2048, true, OptionalInt.of(1000)).plan(List.of(a, d), List.of(), plain);
        // 2047 left; 482 tokens after 3000 cost 482 + 482 * (6000 + 481) / 2000 = 482 + 1561.9, so 2044.
        assertThat(ids(counted.work())).containsExactly("a:decode", "d:482");
        assertThat(counted.budgetLeft()).isEqualTo(3);
    }

    @Test
    void aPromptProgressesByOneTokenEvenWhenOneTokenCostsMoreThanTheRoomLeft() {
        BookkeepingEngine e = attentionCounting(1);
        ScheduledSequence a = decoding(e, "a", 10);
        ScheduledSequence c = prefilling(e, "c", 40_000, 30_000);
        StepPlan plan = new StepPlanner(64, true).plan(List.of(a, c), List.of(sequence("n", 5)), e);
        assertThat(ids(plan.work())).as("the newcomer finds no room left").containsExactly("a:decode", "c:1");
        assertThat(plan.budgetLeft()).isZero();
    }

    @Test
    void aNegativeBreakEvenSettingIsRefusedWhenThePlannerIsBuilt() {
        assertThatThrownBy(() -> new StepPlanner(2048, true, OptionalInt.of(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("attention break-even")
                .hasMessageContaining("-1");
    }
}

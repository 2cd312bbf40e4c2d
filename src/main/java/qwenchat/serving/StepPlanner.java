package qwenchat.serving;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvBlockUsage;
import qwenchat.generation.Priority;

/**
 * Decides what the next engine step carries, and changes nothing: the loop carries the plan out.
 *
 * <p>A step has a budget of {@code maxBatchedTokens} tokens. Every running sequence that has
 * finished its prefill decodes one token first, so streams never stall behind a long prompt. What
 * is left goes to prefill chunks: sequences already prefilling, oldest first, then newcomers from
 * the head of the queue. A prompt longer than what is left is prefilled over several steps, which
 * bounds each step's time and so the gap between two tokens of every running stream.
 *
 * <p>The budget counts projections, and a chunk's tokens also attend to every token before them,
 * so while streams decode, late chunks of a long prompt are charged by {@link ChunkCost}: a chunk
 * after 30K held tokens is several times smaller than the first one, and the step, and with it every
 * stream's gap between tokens, takes about as long at the end of the prompt as at its start. The
 * attention break-even comes from {@code qwen.scheduler.attention-break-even} where set, else from
 * the engine. A step with no decodes has no stream to keep waiting, so its chunks take the whole
 * budget in tokens: a prompt alone is prefilled in the fewest, widest passes.
 *
 * <p>When the KV pool cannot hold the step, background sequences and then the newest running
 * ones give way ({@link PreemptionPolicy}) and no one is admitted that step. Interactive newcomers
 * are admitted before background ones (the bias lab's), which wait while any interactive one does. Newcomers are admitted while
 * {@link KvAdmission} finds room for their whole feed, counting blocks as if nothing were cached
 * (a cached prefix only lowers what they take). With prefix caching, a newcomer starts on the
 * cached blocks that hold the longest prefix of its feed and only the rest is prefilled.
 */
final class StepPlanner {

    private final int maxBatchedTokens;
    private final boolean prefixCaching;
    private final OptionalInt attentionBreakEven;

    /** A planner that takes the attention break-even from the engine. */
    StepPlanner(int maxBatchedTokens, boolean prefixCaching) {
        this(maxBatchedTokens, prefixCaching, OptionalInt.empty());
    }

    /**
     * @param attentionBreakEven the break-even {@link ChunkCost} charges chunks by; empty: the
     *     engine's ({@link InferenceEngine#attentionBreakEven()})
     */
    StepPlanner(int maxBatchedTokens, boolean prefixCaching, OptionalInt attentionBreakEven) {
        if (maxBatchedTokens < 1) throw new IllegalArgumentException("maxBatchedTokens must be >= 1, got " + maxBatchedTokens);
        attentionBreakEven.ifPresent(ChunkCost::new); // a bad setting fails here, not at the first step
        this.maxBatchedTokens = maxBatchedTokens;
        this.prefixCaching = prefixCaching;
        this.attentionBreakEven = attentionBreakEven;
    }

    int maxBatchedTokens() {
        return maxBatchedTokens;
    }

    /**
     * @param running the open sequences, by arrival
     * @param waitingHead the head of the queue, at least as many as there are free slots
     * @param engine read only: sequence lengths, the KV pool's usage, cached prefixes
     */
    StepPlan plan(List<ScheduledSequence> running, List<ScheduledSequence> waitingHead, InferenceEngine engine) {
        int budget = maxBatchedTokens;
        List<StepPlan.Work> decodes = new ArrayList<>();
        List<StepPlan.Work> chunks = new ArrayList<>();
        int[] adds = new int[running.size()];
        int[] held = new int[running.size()];
        int[] chunkCosts = new int[running.size()]; // the budget each of the running sequences' chunks takes
        for (int i = 0; i < running.size(); i++) {
            ScheduledSequence s = running.get(i);
            held[i] = engine.sequenceLength(s.slot);
            if (s.prefilled) {
                decodes.add(StepPlan.Work.decode(s));
                adds[i] = 1;
                budget--;
            }
        }
        ChunkCost cost = new ChunkCost(decodes.isEmpty() ? 0 : attentionBreakEven.orElseGet(engine::attentionBreakEven));
        for (int i = 0; i < running.size(); i++) {
            ScheduledSequence s = running.get(i);
            if (s.prefilled || budget <= 0) continue;
            int remaining = s.feedLength() - held[i];
            int n = cost.largestChunk(held[i], remaining, budget);
            chunkCosts[chunks.size()] = cost.cost(held[i], n);
            budget -= chunkCosts[chunks.size()];
            chunks.add(StepPlan.Work.chunk(s, n, n == remaining));
            adds[i] = n;
        }
        KvBlockUsage usage = engine.kvUsage();
        int[] needs = new int[running.size()];
        int[] heldBlocks = new int[running.size()];
        int committed = 0;
        for (int i = 0; i < running.size(); i++) {
            needs[i] = usage.blocksFor((long) held[i] + adds[i]) - usage.blocksFor(held[i]);
            heldBlocks[i] = usage.blocksFor(held[i]);
            committed += needs[i];
        }
        int[] order = PreemptionPolicy.order(background(running));
        int[] orderedNeeds = new int[order.length];
        int[] orderedHeld = new int[order.length];
        for (int i = 0; i < order.length; i++) {
            orderedNeeds[i] = needs[order[i]];
            orderedHeld[i] = heldBlocks[order[i]];
        }
        int victims = running.size() < 2 ? 0 : PreemptionPolicy.victims(orderedNeeds, orderedHeld, usage.freeBlocks());
        if (victims > 0) {
            // The freed room goes to the sequences kept and to the victims, now at the head of the
            // queue, rather than to a newcomer that would be preempted next.
            List<ScheduledSequence> preempt = new ArrayList<>();
            for (int i = order.length - victims; i < order.length; i++) preempt.add(running.get(order[i]));
            List<StepPlan.Work> work = new ArrayList<>();
            int left = maxBatchedTokens;
            for (StepPlan.Work w : decodes) {
                if (preempt.contains(w.sequence())) continue;
                work.add(w);
                left--;
            }
            for (int c = 0; c < chunks.size(); c++) {
                if (preempt.contains(chunks.get(c).sequence())) continue;
                work.add(chunks.get(c));
                left -= chunkCosts[c];
            }
            return new StepPlan(preempt.reversed(), List.of(), work, Math.max(0, left));
        }
        List<StepPlan.Admission> admitted = new ArrayList<>();
        int slots = engine.capacity().maxSequences() - running.size();
        // Interactive newcomers first; admission stops at the first that does not fit, so a
        // background one is admitted only when no interactive one is left waiting.
        List<ScheduledSequence> byPriority = new ArrayList<>(waitingHead);
        byPriority.sort(java.util.Comparator.comparing(s -> s.request.priority()));
        for (ScheduledSequence s : byPriority) {
            if (slots == 0 || budget <= 0) break;
            boolean nothingRunning = running.isEmpty() && admitted.isEmpty();
            if (!KvAdmission.admits(usage, committed, s.feedLength(), nothingRunning)) break;
            // Keys computed without some biases neither come from nor go to the prefix cache.
            boolean reuse = prefixCaching && !s.request.privateKv();
            int cached = reuse ? engine.cachedPrefixLength(s.feedTokens()) : 0;
            int remaining = s.feedLength() - cached;
            int n = cost.largestChunk(cached, remaining, budget);
            admitted.add(new StepPlan.Admission(s, reuse, cached));
            chunks.add(StepPlan.Work.chunk(s, n, n == remaining));
            budget -= cost.cost(cached, n);
            committed += usage.blocksFor(s.feedLength());
            slots--;
        }
        List<StepPlan.Work> work = new ArrayList<>(decodes);
        work.addAll(chunks);
        // A chunk that had to progress by one token dearer than the room left overspends it.
        return new StepPlan(List.of(), admitted, work, Math.max(0, budget));
    }

    private static boolean[] background(List<ScheduledSequence> running) {
        boolean[] b = new boolean[running.size()];
        for (int i = 0; i < b.length; i++) b[i] = running.get(i).request.priority() == Priority.BACKGROUND;
        return b;
    }
}

package qwenchat.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.BitSet;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The penalty entries a sequence keeps as it grows are exactly those a rebuild from its whole
 * history gives (every distinct fed id; the Sampler's delta for generated ids), whatever the order
 * prompt chunks, decodes and a recompute's relabelling came in. CPU only: the kernel that reads
 * them is checked against the Sampler by CudaSamplingTest on a GPU.
 */
class PenaltyStateTest {

    /** id -> "flag/delta", from the whole history, as DeviceSampling used to build it every step. */
    private static TreeMap<Integer, String> rebuilt(int[] fed, boolean[] decoded, int length, boolean rep,
            boolean presFreq, double frequency, double presence) {
        BitSet seen = new BitSet();
        TreeMap<Integer, Integer> counts = new TreeMap<>();
        for (int i = 0; i < length; i++) {
            seen.set(fed[i]);
            if (decoded[i]) counts.merge(fed[i], 1, Integer::sum);
        }
        TreeMap<Integer, String> out = new TreeMap<>();
        for (int id = seen.nextSetBit(0); id >= 0; id = seen.nextSetBit(id + 1)) {
            int c = counts.getOrDefault(id, 0);
            float delta = presFreq && c > 0 ? (float) (c * frequency + presence) : 0f;
            out.put(id, (rep ? 1 : 0) + "/" + Float.floatToRawIntBits(delta));
        }
        return out;
    }

    private static TreeMap<Integer, String> written(PenaltyState p, boolean rep, boolean presFreq, double frequency,
            double presence) {
        int at = 3; // entries go where the step's packing puts them, after other rows'
        int[] ids = new int[at + p.size()];
        int[] flags = new int[ids.length];
        float[] delta = new float[ids.length];
        p.write(ids, flags, delta, at, rep, presFreq, frequency, presence);
        TreeMap<Integer, String> out = new TreeMap<>();
        for (int j = at; j < ids.length; j++) {
            String previous = out.put(ids[j], flags[j] + "/" + Float.floatToRawIntBits(delta[j]));
            assertThat(previous).as("id %d written twice", ids[j]).isNull();
        }
        return out;
    }

    @Test
    void entriesKeptTokenByTokenEqualARebuildFromTheWholeHistory() {
        Random r = new Random(5);
        SequenceTable table = new SequenceTable(2);
        table.open(1);
        int[] fed = new int[6000];
        boolean[] decoded = new boolean[6000];
        int length = 0;
        while (length < 5000) {
            if (r.nextInt(4) == 0) {
                int n = 1 + r.nextInt(300);
                int[] chunk = new int[n + 2];
                for (int i = 0; i < chunk.length; i++) chunk[i] = r.nextInt(2000);
                table.append(1, chunk, 1, n, false); // a slice, as a chunked prefill passes it
                System.arraycopy(chunk, 1, fed, length, n);
                length += n;
            } else {
                int t = r.nextInt(40) == 0 ? r.nextInt(151_000) : r.nextInt(300); // mostly repeats
                table.append(1, new int[] {t}, 0, 1, true);
                fed[length] = t;
                decoded[length++] = true;
            }
        }
        PenaltyState p = table.penalties(1);
        assertThat(written(p, true, true, 0.4, 0.5)).isEqualTo(rebuilt(fed, decoded, length, true, true, 0.4, 0.5));
        assertThat(written(p, false, true, -0.3, 1.25)).isEqualTo(rebuilt(fed, decoded, length, false, true, -0.3, 1.25));
        assertThat(written(p, true, false, 0, 0)).isEqualTo(rebuilt(fed, decoded, length, true, false, 0, 0));
    }

    @Test
    void aRecomputesSampledTailCountsAsGeneratedAgain() {
        SequenceTable table = new SequenceTable(1);
        table.open(0);
        int[] prompt = {5, 6, 7, 5};
        int[] sampled = {9, 5, 9};
        int[] all = Arrays.copyOf(prompt, 7);
        System.arraycopy(sampled, 0, all, 4, 3);
        table.append(0, all, 0, 7, false); // the recompute feeds everything as a prefill
        table.markGenerated(0, 3);
        boolean[] decoded = {false, false, false, false, true, true, true};
        assertThat(written(table.penalties(0), true, true, 1.0, 0.25))
                .isEqualTo(rebuilt(all, decoded, 7, true, true, 1.0, 0.25))
                .containsEntry(9, "1/" + Float.floatToRawIntBits(2.25f))
                .containsEntry(6, "1/0");
    }

    @Test
    void aFreedSequenceStartsOverWhenItsSlotIsOpenedAgain() {
        SequenceTable table = new SequenceTable(1);
        table.open(0);
        table.append(0, new int[] {1, 2, 3}, 0, 3, true);
        table.free(0);
        table.open(0);
        table.append(0, new int[] {4}, 0, 1, false);
        assertThat(table.penalties(0).size()).isEqualTo(1);
        assertThat(written(table.penalties(0), true, true, 1, 1)).containsOnlyKeys(4);
    }

    @Test
    void hundredsOfDistinctGeneratedIdsGrowTheEntriesWithoutLosingACount() {
        // One decode token at a time, each a new id: the entry arrays grow while a count is being added.
        PenaltyState p = new PenaltyState();
        int[] fed = new int[300];
        boolean[] decoded = new boolean[300];
        for (int i = 0; i < 300; i++) {
            fed[i] = 1000 + (i % 250);
            decoded[i] = true;
            p.addGenerated(fed[i]);
        }
        assertThat(p.size()).isEqualTo(250);
        assertThat(written(p, true, true, 0.5, 0.25)).isEqualTo(rebuilt(fed, decoded, 300, true, true, 0.5, 0.25));
    }
}

package qwenchat.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class LiveStatsTest {

    @Test
    void nearestRankPercentilesInMilliseconds() {
        double[] nanos = new double[100];
        for (int i = 0; i < 100; i++) nanos[i] = (i + 1) * 1_000_000.0;   // 1..100 ms
        assertThat(LiveStats.percentile(nanos, 0.5)).isEqualTo(50.0);
        assertThat(LiveStats.percentile(nanos, 0.95)).isEqualTo(95.0);
        assertThat(LiveStats.percentile(new double[] {7_000_000}, 0.95)).isEqualTo(7.0);
        assertThat(LiveStats.percentile(new double[0], 0.5)).isNull();
    }

    @Test
    void historyKeepsTheNewestSamplesOldestFirst() {
        SampleHistory h = new SampleHistory(3);
        for (long t = 1; t <= 5; t++) h.add(sample(t));
        assertThat(h.snapshot()).extracting(Sample::t).containsExactly(3L, 4L, 5L);
        SampleHistory partial = new SampleHistory(10);
        partial.add(sample(1));
        partial.add(sample(2));
        assertThat(partial.snapshot()).extracting(Sample::t).containsExactly(1L, 2L);
        assertThat(new SampleHistory(2).snapshot()).isEqualTo(List.of());
    }

    private static Sample sample(long t) {
        return new Sample(t, 0, 0, 0, 0, null, null, null, null, 0, 0, 0, 0, 0);
    }
}

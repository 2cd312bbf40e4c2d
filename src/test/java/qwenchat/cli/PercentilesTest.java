package qwenchat.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PercentilesTest {

    @Test
    void nearestRankOnOneToHundred() {
        double[] v = new double[100];
        for (int i = 0; i < 100; i++) v[99 - i] = i + 1; // unsorted on purpose
        Percentiles p = Percentiles.of(v);
        assertThat(p.p50()).isEqualTo(50);
        assertThat(p.p90()).isEqualTo(90);
        assertThat(p.p99()).isEqualTo(99);
        assertThat(p.max()).isEqualTo(100);
        assertThat(p.count()).isEqualTo(100);
    }

    @Test
    void singleAndEmptySamples() {
        assertThat(Percentiles.of(new double[] {7}).p99()).isEqualTo(7);
        assertThat(Percentiles.of(new double[0]).p50()).isNaN();
    }
}

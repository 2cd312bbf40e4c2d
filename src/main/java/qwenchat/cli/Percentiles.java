package qwenchat.cli;

import java.util.Arrays;

/** Nearest-rank percentiles of a set of measurements. */
record Percentiles(double p50, double p90, double p99, double max, int count) {

    static Percentiles of(double[] values) {
        if (values.length == 0) return new Percentiles(Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0);
        double[] v = values.clone();
        Arrays.sort(v);
        return new Percentiles(rank(v, 50), rank(v, 90), rank(v, 99), v[v.length - 1], v.length);
    }

    private static double rank(double[] sorted, double p) {
        int i = (int) Math.ceil(p / 100 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }
}

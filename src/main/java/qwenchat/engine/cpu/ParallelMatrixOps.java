package qwenchat.engine.cpu;

/**
 * Row-parallel products. With one token each weight row is dotted straight from the mapping; with
 * several (prefill, batched decode) each row is decoded once and reused for every token, so the
 * weights are streamed from memory once per call rather than once per token.
 */
final class ParallelMatrixOps implements MatrixOps {

    private static final int MIN_ROWS_PER_TASK = 64;

    private final Parallel parallel;

    ParallelMatrixOps(Parallel parallel) {
        this.parallel = parallel;
    }

    @Override
    public void matmul(Bf16Matrix w, float[][] x, int n, float[][] out) {
        if (n == 1) {
            float[] x0 = x[0];
            float[] o0 = out[0];
            parallel.forRange(w.rows, MIN_ROWS_PER_TASK, (start, end) -> {
                for (int r = start; r < end; r++) o0[r] = w.dot(r, x0);
            });
            return;
        }
        parallel.forRange(w.rows, MIN_ROWS_PER_TASK, (start, end) -> {
            float[] row = new float[w.cols];
            for (int r = start; r < end; r++) {
                w.readRow(r, row);
                for (int t = 0; t < n; t++) out[t][r] = dot(row, x[t], w.cols);
            }
        });
    }

    static float dot(float[] a, float[] b, int n) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int i = 0;
        for (; i + 7 < n; i += 8) {
            s0 += a[i] * b[i];
            s1 += a[i + 1] * b[i + 1];
            s2 += a[i + 2] * b[i + 2];
            s3 += a[i + 3] * b[i + 3];
            s4 += a[i + 4] * b[i + 4];
            s5 += a[i + 5] * b[i + 5];
            s6 += a[i + 6] * b[i + 6];
            s7 += a[i + 7] * b[i + 7];
        }
        float s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
        for (; i < n; i++) s += a[i] * b[i];
        return s;
    }
}

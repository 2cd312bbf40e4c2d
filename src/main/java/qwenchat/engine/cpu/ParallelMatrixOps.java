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
            float[][] rows = new float[ROW_BLOCK][w.cols];
            for (int r = start; r < end; r += ROW_BLOCK) {
                int nr = Math.min(ROW_BLOCK, end - r);
                for (int i = 0; i < nr; i++) w.readRow(r + i, rows[i]);
                if (nr == ROW_BLOCK) {
                    block(rows, r, x, n, out, w.cols);
                } else {
                    for (int i = 0; i < nr; i++) {
                        for (int t = 0; t < n; t++) out[t][r + i] = dot(rows[i], x[t], w.cols);
                    }
                }
            }
        });
    }

    private static final int ROW_BLOCK = 4;

    /**
     * Four weight rows against tokens two at a time: eight independent sums, each loaded weight
     * used twice and each activation four times, which keeps the FMA units busier than one dot
     * product at a time.
     */
    private static void block(float[][] rows, int r, float[][] x, int n, float[][] out, int cols) {
        float[] w0 = rows[0];
        float[] w1 = rows[1];
        float[] w2 = rows[2];
        float[] w3 = rows[3];
        int t = 0;
        for (; t + 1 < n; t += 2) {
            float[] a = x[t];
            float[] b = x[t + 1];
            float a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
            for (int i = 0; i < cols; i++) {
                float xa = a[i];
                float xb = b[i];
                a0 += w0[i] * xa;
                a1 += w1[i] * xa;
                a2 += w2[i] * xa;
                a3 += w3[i] * xa;
                b0 += w0[i] * xb;
                b1 += w1[i] * xb;
                b2 += w2[i] * xb;
                b3 += w3[i] * xb;
            }
            out[t][r] = a0;
            out[t][r + 1] = a1;
            out[t][r + 2] = a2;
            out[t][r + 3] = a3;
            out[t + 1][r] = b0;
            out[t + 1][r + 1] = b1;
            out[t + 1][r + 2] = b2;
            out[t + 1][r + 3] = b3;
        }
        for (; t < n; t++) {
            for (int i = 0; i < ROW_BLOCK; i++) out[t][r + i] = dot(rows[i], x[t], cols);
        }
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

package qwenchat.engine.cpu;

/**
 * The oracle for {@link ParallelMatrixOps}: one thread, one accumulator, one element at a time,
 * so that a bug in the fast path's blocking or threading shows up as a disagreement.
 */
final class ScalarMatrixOps implements MatrixOps {

    @Override
    public void matmul(Bf16Matrix w, float[][] x, int n, float[][] out) {
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < w.rows; r++) {
                var seg = w.segmentOf(r);
                int base = w.offsetOf(r);
                float s = 0;
                for (int c = 0; c < w.cols; c++) s += Bf16Matrix.bf16(seg.getShort(base + 2 * c)) * x[t][c];
                out[t][r] = s;
            }
        }
    }
}

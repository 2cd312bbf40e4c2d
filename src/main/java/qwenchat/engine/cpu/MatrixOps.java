package qwenchat.engine.cpu;

/** {@code out[t] = W · x[t]} for the first {@code n} rows of {@code x}: the engine's only heavy arithmetic. */
interface MatrixOps {

    /**
     * @param x {@code [>=n][w.cols]}
     * @param out {@code [>=n][w.rows]}
     */
    void matmul(Bf16Matrix w, float[][] x, int n, float[][] out);
}

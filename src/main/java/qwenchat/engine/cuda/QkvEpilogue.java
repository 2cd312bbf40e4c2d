package qwenchat.engine.cuda;

import jcuda.driver.CUdeviceptr;

/**
 * What the q/k/v epilogue reads and writes for a pass's rows: {@code qkv_rope_store} after an f32
 * projection (rope_store.cu), or the qkv GEMM's fused copy of it ({@link PrefillGemm#qkvRope}).
 * Row r is position {@code pos[r]} of sequence {@code slots[r]}, whose block must be in {@code kv}'s
 * table already.
 *
 * @param ropeTable f32 [rows][headDim/2][2], each row's (cos, sin) pairs ({@link CudaKernels#ropeTable})
 * @param biasOff the bias lab's mask, int [rows] of {@link qwenchat.engine.KernelLimits} BIAS_* bits
 *     naming the biases each row skips, or null (all added)
 * @param qOut f32 [rows][qDim], written from row {@code qF32From} on: the rows before it are a prompt
 *     chunk whose flash attention reads only {@code qBf16} (0: every row)
 * @param qBf16 bf16 [rows][qDim] for every row, or null
 */
record QkvEpilogue(CUdeviceptr bias, CUdeviceptr ropeTable, CUdeviceptr qOut, CUdeviceptr qBf16,
                   CUdeviceptr kPool, CUdeviceptr vPool, CUdeviceptr slots, CUdeviceptr pos, int qDim, int kvDim, int headDim,
                   CudaKernels.PagedKv kv, CUdeviceptr biasOff, int qF32From) {
    QkvEpilogue {
        if (qF32From < 0) throw new IllegalArgumentException("qkv epilogue: qF32From must be >= 0, got " + qF32From);
        if (qF32From > 0 && qBf16 == null) throw new IllegalArgumentException("qkv epilogue: rows without f32 q need the bf16 q");
    }

    /** The fused projection's output width: q, k and v. */
    int width() {
        return qDim + 2 * kvDim;
    }

    /** Rejects a pass of {@code rows} rows that {@link #qF32From} does not fit. */
    void checkRows(int rows) {
        if (qF32From > rows) {
            throw new IllegalArgumentException("qkv epilogue: qF32From must be in 0.." + rows + ", got " + qF32From);
        }
    }

    /** The kernels' arguments after their q/k/v input, in rope_store.cu's order (the fused GEMM takes the same). */
    Object[] kernelArgs() {
        return new Object[] {bias, ropeTable, qOut, orNull(qBf16), kPool, vPool, slots, pos, qDim, kvDim, headDim,
                kv.blockTable(), kv.maxBlocksPerSeq(), kv.blockSize(), orNull(biasOff), qF32From};
    }

    private static CUdeviceptr orNull(CUdeviceptr p) {
        return p == null ? new CUdeviceptr() : p;
    }
}

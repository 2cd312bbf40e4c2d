package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import java.util.HashSet;
import java.util.Set;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * Projections of 16-64 activation rows (wide decode batches) with the weights as the tensor-core
 * MMA's wide side (src/main/cuda/skinny_gemm.cu), so a step streams the weights near the read
 * bandwidth instead of through the prefill GEMM's mostly padded 128-row tiles. Same operands and
 * epilogue contracts as {@link PrefillGemm}'s f32 and swiglu calls: a bf16 [m][k], weights bf16
 * [n][k], f32 accumulation. Call on the context's worker thread.
 */
public final class SkinnyGemm {
    /** The most activation rows one launch takes (the widest kernel's batch tile). */
    public static final int MAX_ROWS = 64;
    static final int TILE_W = 128;
    static final int TILE_K = 64;
    static final int THREADS = 256;
    static final int STAGES = 4;
    /** Blocks of this kernel one SM runs at once (its registers and shared memory allow two). */
    static final int BLOCKS_PER_SM = 2;
    /** Resident blocks on the 132-SM H200 the split choices were measured on. */
    static final int H200_RESIDENT_BLOCKS = 132 * BLOCKS_PER_SM;
    /** Fewest k-chunks per split-K part, so the 4-stage pipeline is not all ramp. */
    static final int MIN_CHUNKS_PER_SPLIT = 4;

    private final KernelModule module;
    private final Launcher launcher;
    private final CUstream stream;
    private final Set<String> sharedRaised = new HashSet<>();
    private final int residentBlocks;

    /** @param multiprocessors the device's SM count: split-K fills one wave of resident blocks */
    public SkinnyGemm(KernelModule module, CUstream stream, int multiprocessors) {
        this.module = module;
        this.launcher = new Launcher(module, stream);
        this.stream = stream;
        this.residentBlocks = multiprocessors * BLOCKS_PER_SM;
    }

    /** Batch tile (activation rows per kernel) for m rows: 16, 32, 48 or 64. */
    static int batchTile(int m) {
        return (m + 15) / 16 * 16;
    }

    static int sharedBytes(int nb) {
        return STAGES * (TILE_W + nb) * TILE_K * 2;
    }

    /** Split-K parts for an n-row weight over k: fill the resident blocks without a partial second wave. */
    static int splits(int n, int k, int residentBlocks) {
        int tiles = (n + TILE_W - 1) / TILE_W;
        int chunks = k / TILE_K;
        int s = Math.max(1, Math.min(residentBlocks / tiles, chunks / MIN_CHUNKS_PER_SPLIT));
        int per = (chunks + s - 1) / s;
        return (chunks + per - 1) / per;
    }

    static void checkShape(String op, int m, int n, int k) {
        if (m < 1 || m > MAX_ROWS) throw new IllegalArgumentException(op + ": row count m must be 1.." + MAX_ROWS + ", got " + m);
        if (n < 1) throw new IllegalArgumentException(op + ": output width n must be >= 1, got " + n);
        if (k < TILE_K || k % TILE_K != 0) {
            throw new IllegalArgumentException(op + ": inner dimension k must be a positive multiple of " + TILE_K + ", got " + k);
        }
    }

    /** out[r][j] = a[r] · w[j] in f32 (qkv before bias/RoPE, logits). */
    public void linearF32(CUdeviceptr a, CUdeviceptr w, int m, int n, int k, CUdeviceptr out) {
        checkShape("skinny f32 linear", m, n, k);
        int s = splits(n, k, residentBlocks);
        // Split-K parts add atomically, so they need a zero start.
        if (s > 1) check(JCudaDriver.cuMemsetD32Async(out, 0, (long) m * n, stream), "cuMemsetD32Async(skinny out, " + m + "x" + n + ")");
        launchF32(a, w, out, m, n, k, 0, s);
    }

    /** x[r][j] += a[r] · w[j] in f32, in place: the o_proj and down_proj residual updates. */
    public void linearAddF32(CUdeviceptr a, CUdeviceptr w, int m, int n, int k, CUdeviceptr x) {
        checkShape("skinny residual linear", m, n, k);
        launchF32(a, w, x, m, n, k, 1, splits(n, k, residentBlocks));
    }

    /** out[r][i] = silu(a[r] · gateUp[i]) * (a[r] · gateUp[intermediate + i]), bf16 [m][intermediate]. */
    public void swiglu(CUdeviceptr a, CUdeviceptr gateUp, int m, int intermediate, int k, CUdeviceptr out) {
        checkShape("skinny swiglu", m, intermediate, k);
        int nb = batchTile(m);
        String name = "skinny_gemm_swiglu_nb" + nb;
        int blocks = (intermediate + TILE_W / 2 - 1) / (TILE_W / 2);
        raise(name, nb);
        launcher.launch(name, blocks, 1, 1, THREADS, sharedBytes(nb), a, gateUp, out, m, intermediate, k);
    }

    private void launchF32(CUdeviceptr a, CUdeviceptr w, CUdeviceptr out, int m, int n, int k, int accumulate, int splits) {
        int nb = batchTile(m);
        String name = "skinny_gemm_f32_nb" + nb;
        int chunks = k / TILE_K;
        int per = (chunks + splits - 1) / splits;
        raise(name, nb);
        launcher.launch(name, (n + TILE_W - 1) / TILE_W, splits, 1, THREADS, sharedBytes(nb), a, w, out, m, n, k, accumulate, per);
    }

    private void raise(String name, int nb) {
        if (sharedRaised.add(name)) {
            module.allowDynamicShared(name, sharedBytes(nb));
            // Ask for the whole carveout as shared memory so two blocks fit on an SM.
            check(JCudaDriver.cuFuncSetAttribute(module.function(name),
                    CUfunction_attribute.CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, 100),
                    "cuFuncSetAttribute(" + name + ", PREFERRED_SHARED_MEMORY_CARVEOUT=100)");
        }
    }
}

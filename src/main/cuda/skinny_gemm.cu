// skinny_gemm.cu: projections of 16-64 activation rows (wide decode batches) on tensor cores, bound
// by the weight stream rather than by the activations. The prefill GEMMs tile the activations as the
// MMA's M side, so at M <= 64 most of each tile is padding and the few blocks stream the weights at
// ~1.5 TB/s; here the weight rows are the MMA's M side (C^T = W * A^T with mma.sync m16n8k16) and the
// whole batch is its N side, so every block streams 128 weight rows and split-K fills the SMs.
// Batch invariance: a row's arithmetic never depends on the other rows of the call. Each output is
// the same sequence of MMAs over the same k-chunks whatever the batch tile (16..64) or the row's
// place in it; more than 64 rows run as 64-row batch tiles over grid.z (grid.y for swiglu); the
// split count comes from (n, k, SM count) alone; split-K parts are summed in split order 0..s-1 (by
// each tile's last part, or by skinny_splitk_reduce), never with float atomics.
#include "prefill_mma.cuh"

namespace skinny {
using namespace prefill_mma;

constexpr int THREADS = 256;      // 8 warps, 16 weight rows each
constexpr int TILE_W = 128;       // weight rows per block
constexpr int TILE_K = 64;        // k per pipeline stage (one 128-byte row per operand row)
constexpr int STAGES = 4;
constexpr int ROW_BYTES = TILE_K * 2;

// Issues the cp.async loads of k-chunk `chunk` into pipeline stage `st`. Weight tile row t comes from
// weight row wrow(t) (< 0: zero-filled); activation rows >= m are zero-filled.
template <int NB, bool SWIGLU>
static __device__ __forceinline__ void load_stage(unsigned char* smem, int st, const __nv_bfloat16* __restrict__ a,
                                                  const __nv_bfloat16* __restrict__ w, int m, int n, int k, int tile0,
                                                  int chunk) {
    unsigned char* ws = smem + st * (TILE_W * ROW_BYTES + NB * ROW_BYTES);
    unsigned char* as = ws + TILE_W * ROW_BYTES;
    const int tid = threadIdx.x;
    const long kb = (long)chunk * TILE_K;
#pragma unroll
    for (int i = 0; i < TILE_W * 8 / THREADS; i++) {
        const int c = tid + i * THREADS;
        const int t = c >> 3, kc = c & 7;
        int row;
        bool ok;
        if (SWIGLU) {
            // Rows 0..63: gate rows tile0..tile0+63; rows 64..127: the matching up rows n + ...
            const int col = tile0 + (t & 63);
            ok = col < n;
            row = (t < 64 ? col : n + col);
        } else {
            row = tile0 + t;
            ok = row < n;
        }
        const __nv_bfloat16* src = w + (long)(ok ? row : 0) * k + kb + kc * 8;
        cp_async_16(smem_addr(ws) + swizzle<ROW_BYTES>(t, kc), src, ok);
    }
    for (int c = tid; c < NB * 8; c += THREADS) {
        const int r = c >> 3, kc = c & 7;
        const bool ok = r < m;
        const __nv_bfloat16* src = a + (long)(ok ? r : 0) * k + kb + kc * 8;
        cp_async_16(smem_addr(as) + swizzle<ROW_BYTES>(r, kc), src, ok);
    }
}

// acc[t][*] covers weight rows warp*16 + (lane/4) (+8 for [2],[3]) and batch rows t*8 + 2*(lane%4) (+1).
template <int NB, bool SWIGLU>
static __device__ __forceinline__ void mainloop(float (&acc)[NB / 8][4], unsigned char* smem,
                                                const __nv_bfloat16* __restrict__ a,
                                                const __nv_bfloat16* __restrict__ w, int m, int n, int k, int tile0,
                                                int c0, int c1) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int nc = c1 - c0;
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < nc) load_stage<NB, SWIGLU>(smem, s, a, w, m, n, k, tile0, c0 + s);
        cp_async_commit();
    }
    const int arow = warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
    const int akc = lane >> 4;
    const int brow = (lane & 7) + (lane >> 4) * 8;
    const int bkc = (lane >> 3) & 1;
    for (int c = 0; c < nc; c++) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();  // stage c is in for everyone, and stage c-1 (refilled next) is consumed
        const int nxt = c + STAGES - 1;
        if (nxt < nc) load_stage<NB, SWIGLU>(smem, nxt % STAGES, a, w, m, n, k, tile0, c0 + nxt);
        cp_async_commit();
        const unsigned char* ws = smem + (c % STAGES) * (TILE_W * ROW_BYTES + NB * ROW_BYTES);
        const uint32_t wsa = smem_addr(ws), asa = smem_addr(ws + TILE_W * ROW_BYTES);
#pragma unroll
        for (int s = 0; s < TILE_K / 16; s++) {
            uint32_t af[4];
            ldmatrix_x4(af, wsa + swizzle<ROW_BYTES>(arow, s * 2 + akc));
#pragma unroll
            for (int p = 0; p < NB / 16; p++) {
                uint32_t bf[4];
                ldmatrix_x4(bf, asa + swizzle<ROW_BYTES>(p * 16 + brow, s * 2 + bkc));
                mma_bf16_16816(acc[2 * p], af, bf[0], bf[1]);
                mma_bf16_16816(acc[2 * p + 1], af, bf[2], bf[3]);
            }
        }
    }
    cp_async_wait<0>();
}

// out[r][j] (f32, [m][n]) for the block's 128 weight rows and its batch tile of rows
// [blockIdx.z * NB, + NB). One split-K part (gridDim.y == 1) stores or adds into out; with several,
// part y stores its sums into part[y][r][j] ([splits][m][n]). Then either a skinny_splitk_reduce
// launch sums them (counters == nullptr), or the tile's last part to finish does: every part fences
// its stores and counts itself in counters[blockIdx.z][blockIdx.x]; the block that brings the count
// to gridDim.y sums parts 0..s-1 of the tile in that order (the same sums, in the same order, as
// skinny_splitk_reduce) and resets the counter to 0 for the next launch.
template <int NB>
static __device__ void gemm_f32(const __nv_bfloat16* __restrict__ a, const __nv_bfloat16* __restrict__ w,
                                float* __restrict__ out, float* __restrict__ part, int* __restrict__ counters, int m,
                                int n, int k, int accumulate, int chunks_per_split) {
    extern __shared__ __align__(128) unsigned char smem[];
    __shared__ int lastPart;
    float acc[NB / 8][4];
#pragma unroll
    for (int t = 0; t < NB / 8; t++) acc[t][0] = acc[t][1] = acc[t][2] = acc[t][3] = 0.f;
    const int tile0 = blockIdx.x * TILE_W;
    const int row0 = blockIdx.z * NB;
    const int mt = min(NB, m - row0);
    const int chunks = k / TILE_K;
    const int c0 = blockIdx.y * chunks_per_split;
    const int c1 = min(chunks, c0 + chunks_per_split);
    mainloop<NB, false>(acc, smem, a + (long)row0 * k, w, mt, n, k, tile0, c0, c1);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const bool split = gridDim.y > 1;
    float* dst = split ? part + (long)blockIdx.y * m * n : out;
#pragma unroll
    for (int t = 0; t < NB / 8; t++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int j = tile0 + warp * 16 + (lane >> 2) + (e >> 1) * 8;
            const int r = t * 8 + 2 * (lane & 3) + (e & 1);
            if (j >= n || r >= mt) continue;
            float* p = dst + (long)(row0 + r) * n + j;
            if (!split && accumulate) *p += acc[t][e];
            else *p = acc[t][e];
        }
    }
    if (!split || counters == nullptr) return;
    __threadfence();  // this part's stores reach L2 before it is counted
    __syncthreads();
    int* counter = counters + blockIdx.z * gridDim.x + blockIdx.x;
    if (threadIdx.x == 0) lastPart = atomicAdd(counter, 1) == (int)gridDim.y - 1;
    __syncthreads();
    if (!lastPart) return;
    __threadfence();
    const int cols = min(TILE_W, n - tile0);
    const long mn = (long)m * n;
    for (int e = threadIdx.x; e < mt * cols; e += THREADS) {
        const int r = e / cols, jj = e - r * cols;
        const long off = (long)(row0 + r) * n + tile0 + jj;
        float s = __ldcg(part + off);  // L2: the other parts were written by other SMs
        for (int p = 1; p < (int)gridDim.y; p++) s += __ldcg(part + p * mn + off);
        out[off] = accumulate ? out[off] + s : s;
    }
    if (threadIdx.x == 0) *counter = 0;
}

// out[r][i] = silu(a[r].w[i]) * (a[r].w[n+i]) as bf16 [m][n]; the block's 128 weight rows are 64 gate
// rows and the 64 matching up rows, so no split-K (the non-linearity needs whole sums).
template <int NB>
static __device__ void gemm_swiglu(const __nv_bfloat16* __restrict__ a, const __nv_bfloat16* __restrict__ w,
                                   __nv_bfloat16* __restrict__ out, int m, int n, int k) {
    extern __shared__ __align__(128) unsigned char smem[];
    float acc[NB / 8][4];
#pragma unroll
    for (int t = 0; t < NB / 8; t++) acc[t][0] = acc[t][1] = acc[t][2] = acc[t][3] = 0.f;
    const int tile0 = blockIdx.x * (TILE_W / 2);
    const int row0 = blockIdx.y * NB;
    const int mt = min(NB, m - row0);
    mainloop<NB, true>(acc, smem, a + (long)row0 * k, w, mt, n, k, tile0, 0, k / TILE_K);
    __syncthreads();  // every warp is done with the pipeline buffers, reused for the up sums
    float* up = reinterpret_cast<float*>(smem);  // [64 tile rows][NB]
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (warp >= 4) {
#pragma unroll
        for (int t = 0; t < NB / 8; t++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int u = (warp - 4) * 16 + (lane >> 2) + (e >> 1) * 8;
                up[u * NB + t * 8 + 2 * (lane & 3) + (e & 1)] = acc[t][e];
            }
    }
    __syncthreads();
    if (warp < 4) {
#pragma unroll
        for (int t = 0; t < NB / 8; t++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int u = warp * 16 + (lane >> 2) + (e >> 1) * 8;
                const int r = t * 8 + 2 * (lane & 3) + (e & 1);
                const int i = tile0 + u;
                if (i >= n || r >= mt) continue;
                const float g = acc[t][e];
                out[(long)(row0 + r) * n + i] = __float2bfloat16_rn(g / (1.f + __expf(-g)) * up[u * NB + r]);
            }
    }
}
}  // namespace skinny

// What it computes (bf16 operands, f32 accumulation), for any m >= 1 activation rows in batch tiles
// of NB rows (NB = 16, 32, 48 or 64 for m <= 64; 64 above):
//   skinny_gemm_f32_nb{16,32,48,64}:    out[r][j] = sum_k a[r][k] * w[j][k]   (accumulate: out += ...)
//       a [m][k] bf16 row-major (activations), w [n][k] bf16 row-major (checkpoint layout), out [m][n]
//       f32; k % 64 == 0, any n (weight rows past n are zero-filled and not stored).
//       With split-K (gridDim.y = s > 1) the kernel writes part [s][m][n] f32 instead of out, and
//       out[r][j] (= or +=) part[0][r][j] + part[1][r][j] + ... is formed in that order, so the sums
//       are reproducible and independent of m: by the last part of each tile to finish when
//       counters (int [ceil(m/NB)][ceil(n/128)], all 0 before the launch and left 0 after it) is
//       given, else by a skinny_splitk_reduce launch after the kernel.
//   skinny_gemm_swiglu_nb{16,32,48,64}: out[r][i] = silu(g) * u, g = a[r].w[i], u = a[r].w[n+i],
//       out [m][n] bf16; w is the fused [2n][k] gate/up weight, gate rows first.
//   skinny_splitk_reduce: out[e] = (accumulate ? out[e] : 0) + sum_{p=0..s-1} part[p][e] over the
//       mn = m*n elements, summed in p order (the residual add comes last).
// Numerics: f32 sums; the swiglu output is rounded to bf16 once, like prefill_gemm's.
// Launch layout: block 256 threads (8 warps x 16 weight rows), dynamic shared 4 * (128 + NB) * 128
//   bytes (98304 at NB = 64: raise the dynamic-shared limit; two blocks fit per SM);
//   f32: grid (ceil(n/128), splits, ceil(m/NB)), blockIdx.y takes k-chunks
//       [y*chunks_per_split, +chunks_per_split), blockIdx.z rows [z*NB, +NB);
//   swiglu: grid (ceil(n/64), ceil(m/NB)), 64 gate and the 64 matching up rows per block;
//   skinny_splitk_reduce: 1-D grid-stride, block 256.
// CPU counterpart (in Qwen2Forward#run): MatrixOps#matmul, then Qwen2Forward#addBias for q/k/v (done
// on the GPU by rope_store.cu), Qwen2Forward#addInto for the residual, and the SwiGLU loop
// g / (1 + exp(-g)) * u.
#define SKINNY_KERNELS(NB)                                                                                       \
    extern "C" __global__ void __launch_bounds__(skinny::THREADS, 2)                                            \
        skinny_gemm_f32_nb##NB(const __nv_bfloat16* __restrict__ a, const __nv_bfloat16* __restrict__ w,        \
                               float* __restrict__ out, float* __restrict__ part, int* __restrict__ counters, int m,   \
                               int n, int k, int accumulate, int chunks_per_split) {                            \
        skinny::gemm_f32<NB>(a, w, out, part, counters, m, n, k, accumulate, chunks_per_split);                 \
    }                                                                                                           \
    extern "C" __global__ void __launch_bounds__(skinny::THREADS, 2)                                            \
        skinny_gemm_swiglu_nb##NB(const __nv_bfloat16* __restrict__ a, const __nv_bfloat16* __restrict__ w,     \
                                  __nv_bfloat16* __restrict__ out, int m, int n, int k) {                       \
        skinny::gemm_swiglu<NB>(a, w, out, m, n, k);                                                            \
    }

SKINNY_KERNELS(16)
SKINNY_KERNELS(32)
SKINNY_KERNELS(48)
SKINNY_KERNELS(64)

extern "C" __global__ void __launch_bounds__(256) skinny_splitk_reduce(const float* __restrict__ part,
                                                                       float* __restrict__ out, long mn, int splits,
                                                                       int accumulate) {
    for (long e = (long)blockIdx.x * blockDim.x + threadIdx.x; e < mn; e += (long)gridDim.x * blockDim.x) {
        float s = part[e];
        for (int p = 1; p < splits; p++) s += part[(long)p * mn + e];
        out[e] = accumulate ? out[e] + s : s;
    }
}

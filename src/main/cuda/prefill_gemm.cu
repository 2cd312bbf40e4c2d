// prefill_gemm.cu: tensor-core GEMM for prefill projections, C = A * W^T with fused epilogues.
//
// What it computes (f32 accumulation, bf16 operands):
//   prefill_gemm_bf16_bn{128,256}:   C[m][n] = sum_k A[m][k] * W[n][k]  (+ bias[n]) (+ R[m][n])
//       A [M][K] bf16 row-major (activations, one row per token)
//       W [N][K] bf16 row-major (checkpoint layout [out_features][in_features])
//       bias [N] bf16 or null
//       output: C [M][N] bf16 when C != null, else Cf [M][N] f32 (e.g. logits); exactly one non-null
//       R [M][N] or null: residual added before the store, with the output's element type (bf16
//       with C, f32 with Cf). R == C or R == Cf is allowed: in-place "x += proj(a)" on the f32
//       residual stream, since each element is read and written by the same thread.
//   prefill_gemm_swiglu_bn{128,256}: W [2N][K] is the fused gate/up weight (rows 0..N-1 gate,
//       rows N..2N-1 up); C[m][n] = silu(g) * u with g = A[m].W[n], u = A[m].W[N+n]; C [M][N] bf16.
//       bias and R are ignored (Qwen2 MLP has neither). The block loads gate and up rows of the
//       same output columns into one B tile, so each thread holds both g and u in registers.
// Numerics: products summed in f32, bias/residual added in f32 to the f32 sum, one rounding to bf16
// at the end. CPU counterpart (in Qwen2Forward#run): MatrixOps#matmul followed by Qwen2Forward#addBias
// for q/k/v, by Qwen2Forward#addInto for the residual (use Cf with R == Cf for its f32 residual
// stream), and the SwiGLU loop g / (1 + exp(-g)) * u over gate and up. The bias, residual and SwiGLU
// arithmetic is prefill_epilogue.cuh's, shared with prefill_gemm_sm90.cu. The CPU keeps those
// activations in f32; the bf16 outputs here round them once, a ~1e-3 relative difference.
//
// Launch layout (all four kernels):
//   block = 256 threads (8 warps as 2 along M x 4 along N)
//   tile  = 128 rows of M x BN columns (BN = 128 or 256) x 64 of K, 3-stage cp.async pipeline
//   grid  = (ceil(M/128) * ceil(Nw/BN), 1, 1), 1-D; Nw = N for plain, 2N for swiglu
//           (tiles are walked in groups of 8 M-tiles so concurrently running blocks share A and W
//           tiles in L2)
//   dynamic shared memory = 3 * (128 + BN) * 64 * 2 bytes = 98304 (BN=128) or 147456 (BN=256);
//           both exceed 48 KB, so set CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first.
//           BN=256 needs > 99 KB and therefore sm_80/sm_90 (not sm_86/sm_89).
// Requirements (host must check): K % 64 == 0, N % 8 == 0 (all Qwen2.5 shapes have N, K % 64 == 0),
//   M >= 1 any value, A/W/C/R/bias 16-byte aligned with row strides exactly K (A, W) and N (C, R).
//   N tails are handled (rows of W past N read as zero, columns past N not stored).
// Parameters (in order): A, W, C, Cf, bias, R, M, N, K (ints are 32-bit).
#include "prefill_epilogue.cuh"
#include "prefill_mma.cuh"

namespace prefill_gemm {

using namespace prefill_mma;

constexpr int BM = 128;
constexpr int BK = 64;  // 64 bf16 = 128-byte shared rows, 8 chunks of 16 bytes
constexpr int STAGES = 3;
constexpr int THREADS = 256;
constexpr int WARPS_M = 2;
constexpr int WARPS_N = 4;
constexpr int GROUP_M = 8;
constexpr int ROW_BYTES = BK * 2;

template <int BN, bool SWIGLU>
static __device__ __forceinline__ void gemm_tile(const __nv_bfloat16* __restrict__ A,
                                                 const __nv_bfloat16* __restrict__ W, __nv_bfloat16* C,
                                                 float* Cf, const __nv_bfloat16* __restrict__ bias,
                                                 const void* R, int M, int N, int K) {
    constexpr int WM = BM / WARPS_M;  // 64
    constexpr int WN = BN / WARPS_N;  // 32 or 64
    constexpr int MI = WM / 16;       // 4
    constexpr int NI = WN / 8;        // 4 or 8
    constexpr int A_STAGE = BM * ROW_BYTES;
    constexpr int B_STAGE = BN * ROW_BYTES;
    extern __shared__ __align__(128) unsigned char smem[];
    const uint32_t sA = smem_addr(smem);
    const uint32_t sB = sA + STAGES * A_STAGE;

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int wm = warp / WARPS_N;
    const int wn = warp % WARPS_N;

    // Output columns per block: BN for plain, BN/2 for swiglu (the other half of the tile is up rows).
    constexpr int OUT_BN = SWIGLU ? BN / 2 : BN;
    const int mTiles = (M + BM - 1) / BM;
    const int nTiles = (N + OUT_BN - 1) / OUT_BN;
    const int pid = blockIdx.x;
    const int perGroup = GROUP_M * nTiles;
    const int firstM = (pid / perGroup) * GROUP_M;
    const int groupRows = min(mTiles - firstM, GROUP_M);
    const int mt = firstM + (pid % perGroup) % groupRows;
    const int nt = (pid % perGroup) / groupRows;
    const int m0 = mt * BM;
    const int n0 = nt * OUT_BN;

    // Each thread copies a fixed 16-byte chunk column of rows tid/8 + 32*i.
    const int ldChunk = tid & 7;
    const int ldRow = tid >> 3;
    constexpr int ROWS_PER_PASS = THREADS / 8;  // 32

    auto loadStage = [&](int stage, int kTile) {
        const int k0 = kTile * BK + ldChunk * 8;
#pragma unroll
        for (int i = 0; i < BM / ROWS_PER_PASS; ++i) {
            const int r = ldRow + i * ROWS_PER_PASS;
            const int gr = m0 + r;
            const bool valid = gr < M;
            const __nv_bfloat16* src = A + (size_t)(valid ? gr : 0) * K + k0;
            cp_async_16(sA + stage * A_STAGE + swizzle<ROW_BYTES>(r, ldChunk), src, valid);
        }
#pragma unroll
        for (int i = 0; i < BN / ROWS_PER_PASS; ++i) {
            const int r = ldRow + i * ROWS_PER_PASS;
            int gr;
            bool valid;
            if (SWIGLU) {
                // Warp column wn owns tile rows [wn*WN, (wn+1)*WN): first half gate, second half up,
                // both for output columns n0 + wn*WN/2 + [0, WN/2).
                const int w = r % WN;
                const int col = n0 + (r / WN) * (WN / 2) + (w % (WN / 2));
                valid = col < N;
                gr = (w < WN / 2) ? col : N + col;
            } else {
                gr = n0 + r;
                valid = gr < N;
            }
            const __nv_bfloat16* src = W + (size_t)(valid ? gr : 0) * K + k0;
            cp_async_16(sB + stage * B_STAGE + swizzle<ROW_BYTES>(r, ldChunk), src, valid);
        }
    };

    float acc[MI][NI][4];
#pragma unroll
    for (int i = 0; i < MI; ++i)
#pragma unroll
        for (int j = 0; j < NI; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.f;

    const int kTiles = K / BK;
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < kTiles) loadStage(s, s);
        cp_async_commit();
    }

    for (int kt = 0; kt < kTiles; ++kt) {
        cp_async_wait<STAGES - 2>();
        // Also guarantees every warp finished reading the stage that the next load overwrites.
        __syncthreads();
        const int next = kt + STAGES - 1;
        if (next < kTiles) loadStage(next % STAGES, next);
        cp_async_commit();

        const int stage = kt % STAGES;
        const uint32_t tA = sA + stage * A_STAGE;
        const uint32_t tB = sB + stage * B_STAGE;
#pragma unroll
        for (int kk = 0; kk < BK / 16; ++kk) {
            uint32_t af[MI][4];
            uint32_t bfrag[NI][2];
#pragma unroll
            for (int mi = 0; mi < MI; ++mi) {
                const int row = wm * WM + mi * 16 + (lane & 15);
                ldmatrix_x4(af[mi], tA + swizzle<ROW_BYTES>(row, kk * 2 + (lane >> 4)));
            }
#pragma unroll
            for (int nj = 0; nj < NI / 2; ++nj) {
                const int row = wn * WN + nj * 16 + ((lane >> 4) << 3) + (lane & 7);
                uint32_t r[4];
                ldmatrix_x4(r, tB + swizzle<ROW_BYTES>(row, kk * 2 + ((lane >> 3) & 1)));
                bfrag[2 * nj][0] = r[0];
                bfrag[2 * nj][1] = r[1];
                bfrag[2 * nj + 1][0] = r[2];
                bfrag[2 * nj + 1][1] = r[3];
            }
#pragma unroll
            for (int mi = 0; mi < MI; ++mi)
#pragma unroll
                for (int ni = 0; ni < NI; ++ni) mma_bf16_16816(acc[mi][ni], af[mi], bfrag[ni][0], bfrag[ni][1]);
        }
    }
    cp_async_wait<0>();

    // Accumulator fragment: acc[..][e] sits at row lane/4 (+8 for e >= 2), column 2*(lane%4) + (e&1).
    const int fragRow = lane >> 2;
    const int fragCol = (lane & 3) * 2;
    if (SWIGLU) {
#pragma unroll
        for (int mi = 0; mi < MI; ++mi)
#pragma unroll
            for (int ni = 0; ni < NI / 2; ++ni) {
                const int col = n0 + wn * (WN / 2) + ni * 8 + fragCol;
                if (col >= N) continue;
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const int row = m0 + wm * WM + mi * 16 + fragRow + h * 8;
                    if (row >= M) continue;
                    prefill_epilogue::store_swiglu_pair(C, (size_t)row * N + col, acc[mi][ni][2 * h],
                                                        acc[mi][ni][2 * h + 1], acc[mi][ni + NI / 2][2 * h],
                                                        acc[mi][ni + NI / 2][2 * h + 1]);
                }
            }
    } else {
#pragma unroll
        for (int ni = 0; ni < NI; ++ni) {
            const int col = n0 + wn * WN + ni * 8 + fragCol;
            if (col >= N) continue;
            float b0, b1;
            prefill_epilogue::bias_pair(bias, col, b0, b1);
#pragma unroll
            for (int mi = 0; mi < MI; ++mi)
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const int row = m0 + wm * WM + mi * 16 + fragRow + h * 8;
                    if (row >= M) continue;
                    prefill_epilogue::store_pair(acc[mi][ni][2 * h] + b0, acc[mi][ni][2 * h + 1] + b1,
                                                 (size_t)row * N + col, C, Cf, R);
                }
        }
    }
}

}  // namespace prefill_gemm

#define PREFILL_GEMM_PARAMS                                                                          \
    const __nv_bfloat16 *__restrict__ A, const __nv_bfloat16 *__restrict__ W, __nv_bfloat16 *C, float *Cf, \
        const __nv_bfloat16 *__restrict__ bias, const void *R, int M, int N, int K

extern "C" __global__ void __launch_bounds__(256, 2) prefill_gemm_bf16_bn128(PREFILL_GEMM_PARAMS) {
    prefill_gemm::gemm_tile<128, false>(A, W, C, Cf, bias, R, M, N, K);
}

extern "C" __global__ void __launch_bounds__(256, 1) prefill_gemm_bf16_bn256(PREFILL_GEMM_PARAMS) {
    prefill_gemm::gemm_tile<256, false>(A, W, C, Cf, bias, R, M, N, K);
}

extern "C" __global__ void __launch_bounds__(256, 2) prefill_gemm_swiglu_bn128(PREFILL_GEMM_PARAMS) {
    prefill_gemm::gemm_tile<128, true>(A, W, C, Cf, bias, R, M, N, K);
}

extern "C" __global__ void __launch_bounds__(256, 1) prefill_gemm_swiglu_bn256(PREFILL_GEMM_PARAMS) {
    prefill_gemm::gemm_tile<256, true>(A, W, C, Cf, bias, R, M, N, K);
}

#undef PREFILL_GEMM_PARAMS

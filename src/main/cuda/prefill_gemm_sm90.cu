// prefill_gemm_sm90.cu: Hopper (sm_90a) warpgroup-MMA versions of prefill_gemm.cu, same math.
//
// What it computes: exactly what prefill_gemm.cu's kernels compute, with the same parameters
// (A, W, C, Cf, bias, R, M, N, K):
//   *_bf16:   C[m][n] = A[m].W[n] (+ bias[n]) (+ R[m][n]), bf16 C or f32 Cf output; R has the
//             output's element type and may alias it (in-place residual add)
//   *_swiglu: C[m][n] = silu(A[m].W[n]) * A[m].W[N+n], W = fused [2N][K] gate/up weight
// Numerics and CPU counterpart as in prefill_gemm.cu (f32 accumulation, one bf16 rounding).
//
// Kernels and launch layout (grid is 1-D: ceil(M/128) * ceil(Nw/BN) blocks, Nw = N for plain and 2N
// for swiglu, walked in groups of 8 M-tiles as in prefill_gemm.cu; tiles are 128 x BN x 64, the
// swiglu tile holds BN/2 gate rows and the BN/2 up rows of the same output columns):
//   prefill_gemm_wgmma_bf16, prefill_gemm_wgmma_swiglu: BN = 256, block = 256 threads (2 warpgroups,
//       warpgroup g computes rows [64g, 64g+64) with wgmma.m64n256k16); all threads also issue the
//       cp.async loads, 4 stages, dynamic shared memory 197632 bytes
//   prefill_gemm_wgmma_bf16_bn128: BN = 128 (wgmma.m64n128k16), block = 256 threads, 6 stages,
//       dynamic shared memory 197632 bytes; more blocks for narrow layers at ~1K tokens
//   prefill_gemm_wgmma_ws_bf16, prefill_gemm_wgmma_ws_swiglu: BN = 256, block = 384 threads:
//       warpgroup 0 only loads (cp.async completing on mbarriers), warpgroups 1 and 2 only compute,
//       4 stages, dynamic shared memory 197888 bytes
//   prefill_gemm_wgmma_ws_swiglu_bn288: the ws swiglu kernel with BN = 288 (144 gate and 144 up rows,
//       two wgmma.m64n144k16 per k-step), dynamic shared memory 214272 bytes: 18944 outputs make 132
//       tiles per 128 rows, one wave on a 132-SM card where BN = 256 makes 148
//   prefill_gemm_wgmma_ws_bf16_splitk: the plain ws kernel with split-K for decode-width passes, whose
//       few 128 x 256 tiles leave most SMs idle (256 rows of o_proj are 28 tiles for 132 SMs): grid
//       (tiles, splits), block y sums k-tiles [y * kPerSplit, +kPerSplit) and writes its raw f32 sums
//       to part[y][M][N]; prefill_splitk_finish (1-D grid-stride, 256 threads) then adds the parts in
//       order 0..splits-1 and applies the epilogue, so the result is reproducible (no atomics) but
//       rounds differently from the unsplit kernel; batch-invariant passes never split
//   prefill_gemm_wgmma_ws_qkv_rope_hd{64,128}: the plain ws kernel for the fused q/k/v projection with
//       rope_store.cu's epilogue in place of store_tile (store_qkv_rope): bias, RoPE, q to f32 and/or
//       bf16, k and v into the paged KV pools, the same roundings as the f32 GEMM followed by
//       qkv_rope_store (rope.cuh), without the f32 [M][qDim+2*kvDim] round trip through memory. A
//       256-column tile holds whole heads of 64 or 128 dims, and a thread's accumulators hold both
//       halves of every RoPE pair it stores, so no exchange between threads is needed. Arguments:
//       A, W, M, K, col0, then qkv_rope_store's after its qkv pointer (hd must equal the kernel's): W
//       holds the fused weight's rows [col0, qDim + 2*kvDim) (col0 a multiple of hd; qDim: keys and
//       values only), and only those output columns are computed.
//   With a residual R (o_proj, down_proj), the ws kernels' producer prefetches the tile's R rows into L2
//   once its last stage is loaded, and the epilogue loads each thread's R pairs RESIDUAL_GROUP column
//   chunks at a time before storing them (store_tile).
//   The shared sizes include 1 KB so tiles can be 1024-aligned (the 128-byte swizzle of the wgmma
//   descriptors needs it); set CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES before launching.
// Requirements: as prefill_gemm.cu (K % 64 == 0, N % 8 == 0, M >= 1, 16-byte aligned, dense rows).
// Only real on sm_90a machine code: build with -gencode arch=compute_90a,code=sm_90a. Compiled for
// any other target (including plain sm_90 and PTX JIT) the kernels trap, so the host must launch
// them only on compute capability 9.0 with a module that contains sm_90a code, and otherwise use
// prefill_gemm.cu's mma.sync kernels.
#include "common.cuh"
#include "limits.cuh"
#include "prefill_epilogue.cuh"
#include "prefill_mma.cuh"
#include "rope.cuh"
#include "wgmma.cuh"

namespace prefill_gemm_sm90 {

using namespace prefill_mma;

constexpr int BM = 128;
constexpr int BK = 64;
// Output column chunks (n8) whose residual pairs a thread loads before storing any of them (store_tile).
constexpr int RESIDUAL_GROUP = 4;
constexpr int GROUP_M = 8;
constexpr int ROW_BYTES = BK * 2;
constexpr int A_STAGE = BM * ROW_BYTES;  // 16 KB

template <int BN, int STAGES>
constexpr int smem_bytes() {
    return STAGES * (A_STAGE + BN * ROW_BYTES) + 1024;
}
// The warp-specialized kernel also keeps 2 * STAGES mbarriers after the stages.
template <int BN, int STAGES>
constexpr int smem_bytes_ws() {
    return smem_bytes<BN, STAGES>() + 256;
}
static_assert(GROUP_M > 0 && smem_bytes_ws<288, 4>() <= 227 * 1024 && smem_bytes<128, 6>() <= 227 * 1024,
              "tile configs exceed the sm_90 shared memory limit");

#ifdef QC_WGMMA_ENABLED
using namespace sm90;

template <int BN>
static __device__ __forceinline__ void wgmma_tile(float (&d)[BN / 2], uint64_t descA, uint64_t descB) {
    if constexpr (BN == 288) {
        // Gate rows [0, 144) into d[0, 72), up rows [144, 288) into d[72, 144): store_tile's swiglu
        // layout. Row 144 starts a 1024-byte swizzle group, so its descriptor is the tile's plus 144 rows.
        wgmma_m64n144k16(*reinterpret_cast<float(*)[72]>(&d[0]), descA, descB);
        wgmma_m64n144k16(*reinterpret_cast<float(*)[72]>(&d[72]), descA, descB + ((144 * ROW_BYTES) >> 4));
    } else if constexpr (BN == 256) {
        wgmma_m64n256k16(d, descA, descB);
    } else {
        wgmma_m64n128k16(d, descA, descB);
    }
}
#endif  // QC_WGMMA_ENABLED

// Block -> (first row, first output column), grouped so that concurrently running blocks share tiles in L2.
template <int OUT_BN>
static __device__ __forceinline__ int2 tile_origin(int M, int N) {
    const int mTiles = (M + BM - 1) / BM;
    const int nTiles = (N + OUT_BN - 1) / OUT_BN;
    const int pid = blockIdx.x;
    const int perGroup = GROUP_M * nTiles;
    const int firstM = (pid / perGroup) * GROUP_M;
    const int groupRows = min(mTiles - firstM, GROUP_M);
    return make_int2((firstM + (pid % perGroup) % groupRows) * BM, ((pid % perGroup) / groupRows) * OUT_BN);
}

// Copies k-tile kTile of the A rows [m0, m0+128) and of the BN weight rows of this block into one
// stage, spread over THREADS threads (t = this thread's index among them). For swiglu, tile rows
// [0, BN/2) are gate rows and [BN/2, BN) the up rows of output columns n0 .. n0+BN/2-1.
template <int BN, bool SWIGLU, int THREADS>
static __device__ __forceinline__ void load_stage(uint32_t sA, uint32_t sB, const __nv_bfloat16* __restrict__ A,
                                                  const __nv_bfloat16* __restrict__ W, int M, int N, int K, int m0,
                                                  int n0, int kTile, int t) {
    const int chunk = t & 7;
    const int row0 = t >> 3;
    constexpr int ROWS_PER_PASS = THREADS / 8;
    const int k0 = kTile * BK + chunk * 8;
#pragma unroll
    for (int i = 0; i < BM / ROWS_PER_PASS; ++i) {
        const int r = row0 + i * ROWS_PER_PASS;
        const int gr = m0 + r;
        const bool valid = gr < M;
        cp_async_16(sA + swizzle<ROW_BYTES>(r, chunk), A + (size_t)(valid ? gr : 0) * K + k0, valid);
    }
#pragma unroll
    for (int i = 0; i < BN / ROWS_PER_PASS; ++i) {
        const int r = row0 + i * ROWS_PER_PASS;
        int gr;
        bool valid;
        if (SWIGLU) {
            constexpr bool POW2 = (BN & (BN - 1)) == 0;
            const int col = n0 + (POW2 ? (r & (BN / 2 - 1)) : (r < BN / 2 ? r : r - BN / 2));
            valid = col < N;
            gr = r < BN / 2 ? col : N + col;
        } else {
            gr = n0 + r;
            valid = gr < N;
        }
        cp_async_16(sB + swizzle<ROW_BYTES>(r, chunk), W + (size_t)(valid ? gr : 0) * K + k0, valid);
    }
}

// Accumulator layout of one warpgroup's 64 x BN result: acc[4j+e] sits at row rowBase (+8 for e >= 2),
// column 8j + 2*(lane%4) + (e&1), where rowBase = first row of the warp's 16 + lane/4.
template <int BN, bool SWIGLU>
static __device__ __forceinline__ void store_tile(const float (&acc)[BN / 2], int rowBase, int n0, int lane,
                                                  __nv_bfloat16* C, float* Cf, const __nv_bfloat16* __restrict__ bias,
                                                  const void* R, int M, int N) {
    const int colBase = (lane & 3) * 2;
    if (SWIGLU) {
        constexpr int HALF = BN / 16;  // n8 chunks of gate; the up chunk of gate chunk j is j + HALF
#pragma unroll
        for (int j = 0; j < HALF; ++j) {
            const int col = n0 + j * 8 + colBase;
            if (col >= N) continue;
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int row = rowBase + h * 8;
                if (row >= M) continue;
                prefill_epilogue::store_swiglu_pair(C, (size_t)row * N + col, acc[4 * j + 2 * h], acc[4 * j + 2 * h + 1],
                                                    acc[4 * (j + HALF) + 2 * h], acc[4 * (j + HALF) + 2 * h + 1]);
            }
        }
    } else {
        // A residual's pairs are loaded RESIDUAL_GROUP column chunks at a time, all before their stores:
        // R may alias the output, so the compiler keeps each load behind the store before it, and one
        // load-then-store at a time left the tile waiting on memory 64 times in a row (o_proj at 8K
        // rows ran at 455 TFLOP/s against qkv's 703). Same sums, same order of adds.
        constexpr int GROUP = RESIDUAL_GROUP;
        static_assert((BN / 8) % GROUP == 0, "residual groups must tile the output chunks");
#pragma unroll
        for (int j0 = 0; j0 < BN / 8; j0 += GROUP) {
            float2 r[GROUP][2];
#pragma unroll
            for (int g = 0; g < GROUP; ++g) {
                const int col = n0 + (j0 + g) * 8 + colBase;
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const int row = rowBase + h * 8;
                    r[g][h] = R != nullptr && col < N && row < M ? prefill_epilogue::residual_pair(R, C, (size_t)row * N + col)
                                                                 : make_float2(0.f, 0.f);
                }
            }
#pragma unroll
            for (int g = 0; g < GROUP; ++g) {
                const int j = j0 + g;
                const int col = n0 + j * 8 + colBase;
                if (col >= N) continue;
                float b0, b1;
                prefill_epilogue::bias_pair(bias, col, b0, b1);
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const int row = rowBase + h * 8;
                    if (row >= M) continue;
                    float v0 = acc[4 * j + 2 * h] + b0, v1 = acc[4 * j + 2 * h + 1] + b1;
                    if (R != nullptr) {
                        v0 += r[g][h].x;
                        v1 += r[g][h].y;
                    }
                    prefill_epilogue::store_out_pair(v0, v1, (size_t)row * N + col, C, Cf);
                }
            }
        }
    }
}

// The operands of the fused qkv epilogue: rope_store.cu's qkv_rope_store arguments after its qkv.
struct QkvRope {
    const __nv_bfloat16* __restrict__ bias;  // [qDim + 2*kvDim]
    const float* __restrict__ rope_table;    // [M][hd/2][2]: (cos, sin) of each row's position (rope_table)
    float* q_out;                            // [M][qDim] f32, rows >= q_f32_from
    __nv_bfloat16* q_bf16;                   // [M][qDim] or null
    __nv_bfloat16* k_cache;                  // [totalBlocks][kvHeads][blockSize][hd]
    __nv_bfloat16* v_cache;
    const int* __restrict__ slots;           // [M]
    const int* __restrict__ pos;             // [M]
    int qDim, kvDim;
    const int* __restrict__ block_table;     // [sequences][max_blocks_per_seq]
    int max_blocks_per_seq, block_size;
    const int* __restrict__ bias_off;        // [M] limits::BIAS_* bits, or null
    int q_f32_from;
    int col0;                                // the fused output column of the GEMM's column 0
};

// store_tile's accumulators (BN = 256) through qkv_rope_store's epilogue. Head columns c and c + HD/2
// are n8 chunks j and j + HD/16 of the same thread (acc[4j + 2h + e]: row rowBase + 8h, column
// 8j + 2*(lane%4) + e), so each thread rotates its own pairs. Its (cos, sin) pairs i, i+1 come from
// the pass's table in one 16-byte load, its biases two columns a load.
template <int HD>
static __device__ __forceinline__ void store_qkv_rope(const float (&acc)[128], int rowBase, int n0, int lane,
                                                      const QkvRope& e, int M) {
    constexpr int HC = HD / 8;  // n8 chunks of a head
    constexpr int HEADS = 256 / HD;
    constexpr int HALF = HD / 2;
    static_assert(256 % HD == 0 && HC % 2 == 0, "a 256-column tile must hold whole heads");
    const int colBase = (lane & 3) * 2;
    n0 += e.col0;                                // the tile's first column of the fused q/k/v output
    const bool rotates = n0 < e.qDim + e.kvDim;  // the tile holds a q or k head
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int row = rowBase + h * 8;
        if (row >= M) continue;
        const int p = e.pos[row];
        const int off = e.bias_off != nullptr ? e.bias_off[row] : 0;
        const int* bt = e.block_table + (size_t)e.slots[row] * e.max_blocks_per_seq;
        const bool qf32 = row >= e.q_f32_from;
        const float4* tab = reinterpret_cast<const float4*>(e.rope_table + (size_t)row * HD);
#pragma unroll
        for (int jj = 0; jj < HC / 2; ++jj) {
            const int i = jj * 8 + colBase;  // this thread's pairs (i, i + HALF) and (i + 1, i + 1 + HALF)
            const float4 cs = rotates ? __ldg(tab + (i >> 1)) : make_float4(1.f, 0.f, 1.f, 0.f);
#pragma unroll
            for (int hh = 0; hh < HEADS; ++hh) {
                const int head0 = n0 + hh * HD;  // the head's first column
                if (head0 >= e.qDim + 2 * e.kvDim) continue;
                const int j0 = hh * HC + jj, j1 = j0 + HC / 2;
                const int proj = head0 < e.qDim ? limits::BIAS_Q : head0 < e.qDim + e.kvDim ? limits::BIAS_K : limits::BIAS_V;
                const bool keep = !(off & proj);
                const float2 b0 = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(e.bias + head0 + i));
                const float2 b1 = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(e.bias + head0 + HALF + i));
                float a00 = qc::rope_add_bias(acc[4 * j0 + 2 * h], b0.x, keep);
                float a01 = qc::rope_add_bias(acc[4 * j0 + 2 * h + 1], b0.y, keep);
                float a10 = qc::rope_add_bias(acc[4 * j1 + 2 * h], b1.x, keep);
                float a11 = qc::rope_add_bias(acc[4 * j1 + 2 * h + 1], b1.y, keep);
                if (proj != limits::BIAS_V) {
                    qc::rope_rotate(a00, a10, cs.x, cs.y);
                    qc::rope_rotate(a01, a11, cs.z, cs.w);
                }
                __nv_bfloat16* dst;
                size_t base;
                if (proj == limits::BIAS_Q) {
                    const size_t at = (size_t)row * e.qDim + head0 + i;
                    if (qf32) {
                        *reinterpret_cast<float2*>(e.q_out + at) = make_float2(a00, a01);
                        *reinterpret_cast<float2*>(e.q_out + at + HALF) = make_float2(a10, a11);
                    }
                    if (e.q_bf16 == nullptr) continue;
                    dst = e.q_bf16;
                    base = at;
                } else {
                    const bool isK = proj == limits::BIAS_K;
                    const int kvh = (head0 - e.qDim - (isK ? 0 : e.kvDim)) / HD;
                    dst = isK ? e.k_cache : e.v_cache;
                    base = qc::kv_offset(bt, e.block_size, e.kvDim / HD, kvh, p, HD) + i;
                }
                *reinterpret_cast<__nv_bfloat162*>(dst + base) = __halves2bfloat162(__float2bfloat16(a00), __float2bfloat16(a01));
                *reinterpret_cast<__nv_bfloat162*>(dst + base + HALF) =
                    __halves2bfloat162(__float2bfloat16(a10), __float2bfloat16(a11));
            }
        }
    }
}

// Prefetches rows [m0, m0+128) x columns [n0, n0+BN) of the row-major [M][N] matrix P (elements of
// esz bytes) into L2, one 128-byte line a prefetch, spread over the producer's 128 threads (t).
template <int BN>
static __device__ __forceinline__ void prefetch_tile_l2(const void* P, int esz, int m0, int n0, int M, int N, int t) {
    const int perLine = 128 / esz;
    const int lines = (BN + perLine - 1) / perLine;
    for (int i = t; i < BM * lines; i += 128) {
        const int r = i / lines;
        const int row = m0 + r, col = n0 + (i - r * lines) * perLine;
        if (row < M && col < N) {
            const char* at = static_cast<const char*>(P) + ((size_t)row * N + col) * esz;
            asm volatile("prefetch.global.L2 [%0];\n" ::"l"(at));
        }
    }
}

// One split-K part: the raw f32 sums of store_tile's layout, no bias, residual or rounding.
template <int BN>
static __device__ __forceinline__ void store_part(const float (&acc)[BN / 2], int rowBase, int n0, int lane, float* P,
                                                  int M, int N) {
    const int colBase = (lane & 3) * 2;
#pragma unroll
    for (int j = 0; j < BN / 8; ++j) {
        const int col = n0 + j * 8 + colBase;
        if (col >= N) continue;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int row = rowBase + h * 8;
            if (row >= M) continue;
            *reinterpret_cast<float2*>(P + (size_t)row * N + col) = make_float2(acc[4 * j + 2 * h], acc[4 * j + 2 * h + 1]);
        }
    }
}

// 256 threads; every thread loads, each warpgroup multiplies its 64 rows.
template <int BN, int STAGES, bool SWIGLU>
static __device__ __forceinline__ void gemm_cooperative(const __nv_bfloat16* __restrict__ A,
                                                        const __nv_bfloat16* __restrict__ W, __nv_bfloat16* C,
                                                        float* Cf, const __nv_bfloat16* __restrict__ bias,
                                                        const void* R, int M, int N, int K) {
#ifdef QC_WGMMA_ENABLED
    constexpr int B_STAGE = BN * ROW_BYTES;
    extern __shared__ __align__(1024) unsigned char smem[];
    const uint32_t sA = (smem_addr(smem) + 1023u) & ~1023u;
    const uint32_t sB = sA + STAGES * A_STAGE;
    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int wg = warp >> 2;
    const int2 origin = tile_origin<SWIGLU ? BN / 2 : BN>(M, N);
    const int m0 = origin.x, n0 = origin.y;

    float acc[BN / 2];
#pragma unroll
    for (int i = 0; i < BN / 2; ++i) acc[i] = 0.f;

    // Prefetch distance STAGES-2: the stage refilled in iteration kt was read by the wgmmas of tile
    // kt-2, which every warp has retired (wgmma_wait<1> at the end of iteration kt-1) before the barrier.
    const int kTiles = K / BK;
#pragma unroll
    for (int s = 0; s < STAGES - 2; ++s) {
        if (s < kTiles)
            load_stage<BN, SWIGLU, 256>(sA + s * A_STAGE, sB + s * B_STAGE, A, W, M, N, K, m0, n0, s, tid);
        cp_async_commit();
    }
    for (int kt = 0; kt < kTiles; ++kt) {
        cp_async_wait<STAGES - 3>();
        fence_proxy_async();
        __syncthreads();
        const int next = kt + STAGES - 2;
        if (next < kTiles) {
            const int ns = next % STAGES;
            load_stage<BN, SWIGLU, 256>(sA + ns * A_STAGE, sB + ns * B_STAGE, A, W, M, N, K, m0, n0, next, tid);
        }
        cp_async_commit();

        const int stage = kt % STAGES;
        const uint32_t tA = sA + stage * A_STAGE + wg * (64 * ROW_BYTES);
        const uint32_t tB = sB + stage * B_STAGE;
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < BK / 16; ++kk) wgmma_tile<BN>(acc, smem_desc(tA + kk * 32), smem_desc(tB + kk * 32));
        wgmma_commit();
        wgmma_wait<1>();
    }
    wgmma_wait<0>();
    cp_async_wait<0>();
    store_tile<BN, SWIGLU>(acc, m0 + wg * 64 + (warp & 3) * 16 + (lane >> 2), n0, lane, C, Cf, bias, R, M, N);
#else
    __trap();  // no wgmma in this build target; see the head comment
#endif
}

// 384 threads: warpgroup 0 produces stages, warpgroups 1 and 2 consume them. full[s] completes when
// all 128 producer threads' copies into stage s have landed; empty[s] when all 256 consumer threads
// have retired the wgmmas that read it. Up to BN = 256 the consumers fit in the 168-register cap and
// no setmaxnreg is used (lowering the producer's cap below 80 made it spill addresses); the 288-row
// swiglu tile moves registers from the producer to the consumers.
// Split-K (SPLIT): block (x, y) sums only k-tiles [y * kPerSplit, min(kTiles, (y + 1) * kPerSplit)) and
// stores its raw f32 sums to part[y][M][N]; prefill_splitk_finish adds the parts and applies the epilogue.
// ROPE_HD (fused qkv epilogue, BN = 256 only): the tile goes through store_qkv_rope<ROPE_HD>(*rope)
// instead of store_tile.
template <int BN, int STAGES, bool SWIGLU, bool SPLIT = false, int ROPE_HD = 0>
static __device__ __forceinline__ void gemm_specialized(const __nv_bfloat16* __restrict__ A,
                                                        const __nv_bfloat16* __restrict__ W, __nv_bfloat16* C,
                                                        float* Cf, const __nv_bfloat16* __restrict__ bias,
                                                        const void* R, int M, int N, int K, float* part = nullptr,
                                                        int kPerSplit = 0, const QkvRope* rope = nullptr) {
#ifdef QC_WGMMA_ENABLED
    constexpr int B_STAGE = BN * ROW_BYTES;
    extern __shared__ __align__(1024) unsigned char smem[];
    const uint32_t sA = (smem_addr(smem) + 1023u) & ~1023u;
    const uint32_t sB = sA + STAGES * A_STAGE;
    const uint32_t full = sB + STAGES * B_STAGE;  // STAGES barriers of 8 bytes
    const uint32_t empty = full + STAGES * 8;
    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int wg = warp >> 2;
    const int2 origin = tile_origin<SWIGLU ? BN / 2 : BN>(M, N);
    const int m0 = origin.x, n0 = origin.y;
    const int kFirst = SPLIT ? blockIdx.y * kPerSplit : 0;
    const int kTiles = SPLIT ? min(K / BK - kFirst, kPerSplit) : K / BK;

    if (tid == 0) {
        for (int s = 0; s < STAGES; ++s) {
            mbar_init(full + 8 * s, 128);
            mbar_init(empty + 8 * s, 256);
        }
    }
    __syncthreads();

    if (wg == 0) {
        // The 288-row swiglu tile's 144 accumulators need more than the 168 registers 384 threads get
        // evenly: the producer gives some back and the consumers take them (80 * 128 + 208 * 256 <= 168 * 384).
        if constexpr (BN == 288) asm volatile("setmaxnreg.dec.sync.aligned.u32 80;\n" ::: "memory");
        for (int kt = 0; kt < kTiles; ++kt) {
            const int s = kt % STAGES;
            if (kt >= STAGES) mbar_wait(empty + 8 * s, ((kt / STAGES) - 1) & 1);
            load_stage<BN, SWIGLU, 128>(sA + s * A_STAGE, sB + s * B_STAGE, A, W, M, N, K, m0, n0, kFirst + kt, tid);
            mbar_arrive_cp_async(full + 8 * s);
        }
        if constexpr (!SWIGLU && !SPLIT && ROPE_HD == 0) {
            // The tile's residual rows into L2 while the consumers finish their last stages, so the
            // epilogue's loads of them hit L2 instead of waiting on memory.
            if (R != nullptr) prefetch_tile_l2<BN>(R, C != nullptr ? 2 : 4, m0, n0, M, N, tid);
        }
    } else {
        if constexpr (BN == 288) asm volatile("setmaxnreg.inc.sync.aligned.u32 208;\n" ::: "memory");
        const int cw = wg - 1;
        float acc[BN / 2];
#pragma unroll
        for (int i = 0; i < BN / 2; ++i) acc[i] = 0.f;
        for (int kt = 0; kt < kTiles; ++kt) {
            const int s = kt % STAGES;
            mbar_wait(full + 8 * s, (kt / STAGES) & 1);
            fence_proxy_async();
            const uint32_t tA = sA + s * A_STAGE + cw * (64 * ROW_BYTES);
            const uint32_t tB = sB + s * B_STAGE;
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < BK / 16; ++kk)
                wgmma_tile<BN>(acc, smem_desc(tA + kk * 32), smem_desc(tB + kk * 32));
            wgmma_commit();
            wgmma_wait<1>();
            if (kt > 0) mbar_arrive(empty + 8 * ((kt - 1) % STAGES));
        }
        wgmma_wait<0>();
        const int rowBase = m0 + cw * 64 + (warp & 3) * 16 + (lane >> 2);
        if constexpr (ROPE_HD > 0) {
            static_assert(BN == 256 && !SWIGLU && !SPLIT, "the fused qkv epilogue takes the plain 256-column tile");
            store_qkv_rope<ROPE_HD>(acc, rowBase, n0, lane, *rope, M);
        } else if constexpr (SPLIT) {
            store_part<BN>(acc, rowBase, n0, lane, part + (size_t)blockIdx.y * M * N, M, N);
        } else {
            store_tile<BN, SWIGLU>(acc, rowBase, n0, lane, C, Cf, bias, R, M, N);
        }
    }
#else
    __trap();
#endif
}

}  // namespace prefill_gemm_sm90

#define PREFILL_WGMMA_PARAMS                                                                         \
    const __nv_bfloat16 *__restrict__ A, const __nv_bfloat16 *__restrict__ W, __nv_bfloat16 *C, float *Cf, \
        const __nv_bfloat16 *__restrict__ bias, const void *R, int M, int N, int K
#define PREFILL_WGMMA_ARGS A, W, C, Cf, bias, R, M, N, K

extern "C" __global__ void __launch_bounds__(256, 1) prefill_gemm_wgmma_bf16(PREFILL_WGMMA_PARAMS) {
    prefill_gemm_sm90::gemm_cooperative<256, 4, false>(PREFILL_WGMMA_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 1) prefill_gemm_wgmma_swiglu(PREFILL_WGMMA_PARAMS) {
    prefill_gemm_sm90::gemm_cooperative<256, 4, true>(PREFILL_WGMMA_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 1) prefill_gemm_wgmma_bf16_bn128(PREFILL_WGMMA_PARAMS) {
    prefill_gemm_sm90::gemm_cooperative<128, 6, false>(PREFILL_WGMMA_ARGS);
}

extern "C" __global__ void __launch_bounds__(384, 1) prefill_gemm_wgmma_ws_bf16(PREFILL_WGMMA_PARAMS) {
    prefill_gemm_sm90::gemm_specialized<256, 4, false>(PREFILL_WGMMA_ARGS);
}

extern "C" __global__ void __launch_bounds__(384, 1) prefill_gemm_wgmma_ws_swiglu(PREFILL_WGMMA_PARAMS) {
    prefill_gemm_sm90::gemm_specialized<256, 4, true>(PREFILL_WGMMA_ARGS);
}

extern "C" __global__ void __launch_bounds__(384, 1) prefill_gemm_wgmma_ws_swiglu_bn288(PREFILL_WGMMA_PARAMS) {
    prefill_gemm_sm90::gemm_specialized<288, 4, true>(PREFILL_WGMMA_ARGS);
}

extern "C" __global__ void __launch_bounds__(384, 1) prefill_gemm_wgmma_ws_bf16_splitk(PREFILL_WGMMA_PARAMS, float* part,
                                                                                     int kPerSplit) {
    prefill_gemm_sm90::gemm_specialized<256, 4, false, true>(PREFILL_WGMMA_ARGS, part, kPerSplit);
}

#define PREFILL_QKV_ROPE_KERNEL(HD)                                                                              \
    extern "C" __global__ void __launch_bounds__(384, 1) prefill_gemm_wgmma_ws_qkv_rope_hd##HD(                   \
        const __nv_bfloat16* __restrict__ A, const __nv_bfloat16* __restrict__ W, int M, int K, int col0,         \
        const __nv_bfloat16* __restrict__ bias, const float* __restrict__ rope_table, float* q_out,               \
        __nv_bfloat16* q_bf16, __nv_bfloat16* k_cache, __nv_bfloat16* v_cache, const int* __restrict__ slots,      \
        const int* __restrict__ pos, int qDim, int kvDim, int hd, const int* __restrict__ block_table,            \
        int max_blocks_per_seq, int block_size, const int* __restrict__ bias_off, int q_f32_from) {               \
        if (hd != HD || col0 % HD != 0) __trap();                                                                \
        const prefill_gemm_sm90::QkvRope rope{bias, rope_table, q_out, q_bf16, k_cache, v_cache, slots, pos, qDim,  \
                                              kvDim, block_table, max_blocks_per_seq, block_size, bias_off,         \
                                              q_f32_from, col0};                                                    \
        prefill_gemm_sm90::gemm_specialized<256, 4, false, false, HD>(A, W, nullptr, nullptr, nullptr, nullptr, M,   \
                                                                      qDim + 2 * kvDim - col0, K, nullptr, 0, &rope); \
    }

PREFILL_QKV_ROPE_KERNEL(64)
PREFILL_QKV_ROPE_KERNEL(128)
#undef PREFILL_QKV_ROPE_KERNEL

// Sums the split-K parts of prefill_gemm_wgmma_ws_bf16_splitk in part order 0..splits-1, then applies
// the plain kernels' epilogue (bias, residual R, bf16 C or f32 Cf) through prefill_epilogue.cuh.
// Portable (no wgmma); 1-D grid-stride over column pairs, block 256.
extern "C" __global__ void __launch_bounds__(256) prefill_splitk_finish(const float* __restrict__ part, int splits,
                                                                        __nv_bfloat16* C, float* Cf,
                                                                        const __nv_bfloat16* __restrict__ bias,
                                                                        const void* R, int M, int N) {
    const size_t mn = (size_t)M * N;
    for (size_t e = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * 2; e < mn; e += (size_t)gridDim.x * blockDim.x * 2) {
        float2 v = *reinterpret_cast<const float2*>(part + e);
        for (int p = 1; p < splits; ++p) {
            const float2 w = *reinterpret_cast<const float2*>(part + (size_t)p * mn + e);
            v.x += w.x;
            v.y += w.y;
        }
        float b0, b1;
        prefill_epilogue::bias_pair(bias, (int)(e % N), b0, b1);
        prefill_epilogue::store_pair(v.x + b0, v.y + b1, e, C, Cf, R);
    }
}

#undef PREFILL_WGMMA_PARAMS
#undef PREFILL_WGMMA_ARGS

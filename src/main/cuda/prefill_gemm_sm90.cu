// prefill_gemm_sm90.cu: Hopper (sm_90a) warpgroup-MMA version of prefill_gemm.cu, same math.
//
// What it computes: exactly what prefill_gemm.cu's kernels compute, with the same parameters:
//   prefill_gemm_wgmma_bf16:   C[m][n] = A[m].W[n] (+ bias[n]) (+ R[m][n]), bf16 C or f32 Cf output
//   prefill_gemm_wgmma_swiglu: C[m][n] = silu(A[m].W[n]) * A[m].W[N+n], W = fused [2N][K] gate/up
// Numerics and CPU counterpart as in prefill_gemm.cu (f32 accumulation, one bf16 rounding).
//
// Launch layout (both kernels):
//   block = 256 threads = 2 warpgroups; warpgroup g computes rows [64g, 64g+64) of a 128 x 256 tile
//           with wgmma.m64n256k16 (A and B both read from shared memory through descriptors)
//   grid  = (ceil(M/128) * ceil(Nw/256), 1, 1), 1-D; Nw = N for plain, 2N for swiglu (the swiglu
//           block computes 128 output columns from 128 gate + 128 up rows); grouped order as in
//           prefill_gemm.cu
//   dynamic shared memory = 197632 bytes (4 stages x 48 KB + 1 KB so tiles can be 1024-aligned, which
//           the 128-byte swizzle of the descriptors needs); set CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES.
// Requirements: as prefill_gemm.cu (K % 64 == 0, N % 8 == 0, M >= 1, 16-byte aligned, dense rows).
// Only real on sm_90a machine code: build with -gencode arch=compute_90a,code=sm_90a. Compiled for
// any other target (including plain sm_90 and PTX JIT) the kernels trap, so the host must launch
// them only on compute capability 9.0 with a module that contains sm_90a code, and otherwise use
// prefill_gemm.cu's mma.sync kernels.
#include "prefill_mma.cuh"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define PREFILL_WGMMA_ENABLED 1
#endif

namespace prefill_gemm_sm90 {

using namespace prefill_mma;

constexpr int BM = 128;
constexpr int BN = 256;
constexpr int BK = 64;
constexpr int STAGES = 4;
constexpr int THREADS = 256;
constexpr int GROUP_M = 8;
constexpr int ROW_BYTES = BK * 2;
constexpr int A_STAGE = BM * ROW_BYTES;  // 16 KB
constexpr int B_STAGE = BN * ROW_BYTES;  // 32 KB
constexpr int SMEM_BYTES = STAGES * (A_STAGE + B_STAGE) + 1024;
static_assert(SMEM_BYTES <= 227 * 1024 && THREADS == 256 && GROUP_M > 0, "tile config exceeds sm_90 limits");

#ifdef PREFILL_WGMMA_ENABLED
// Shared-memory matrix descriptor for a K-major tile with 128-byte rows in the 128-byte swizzle
// (16-byte chunk c of row r stored at chunk c ^ (r & 7), the layout swizzle<128> writes): start
// address, leading offset unused for this layout (1), stride between 8-row groups 1024 bytes.
static __device__ __forceinline__ uint64_t smem_desc(uint32_t addr) {
    uint64_t d = (uint64_t)((addr & 0x3FFFF) >> 4);
    d |= (uint64_t)1 << 16;
    d |= (uint64_t)(1024 >> 4) << 32;
    d |= (uint64_t)1 << 62;
    return d;
}

static __device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
static __device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
static __device__ __forceinline__ void wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
static __device__ __forceinline__ void fence_proxy_async() {
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// d[64 x 256] += A[64 x 16] * B[256 x 16]^T, both operands from shared memory.
static __device__ __forceinline__ void wgmma_m64n256k16(float (&d)[128], uint64_t descA, uint64_t descB) {
    asm volatile(
        "{\n"
        ".reg .pred p;\n"
        "setp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        " %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        " %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        " %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
        " %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
        " %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
        " %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
        " %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, "
        "%128, %129, p, 1, 1, 0, 0;\n"
        "}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
          "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
          "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
          "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
          "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
          "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "l"(descA), "l"(descB), "r"(1));
}
#endif

template <bool SWIGLU>
static __device__ __forceinline__ void gemm_tile(const __nv_bfloat16* __restrict__ A,
                                                 const __nv_bfloat16* __restrict__ W, __nv_bfloat16* C,
                                                 float* Cf, const __nv_bfloat16* __restrict__ bias,
                                                 const __nv_bfloat16* R, int M, int N, int K) {
#ifdef PREFILL_WGMMA_ENABLED
    extern __shared__ __align__(1024) unsigned char smem[];
    const uint32_t base = (smem_addr(smem) + 1023u) & ~1023u;
    const uint32_t sA = base;
    const uint32_t sB = base + STAGES * A_STAGE;

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int wg = warp >> 2;

    constexpr int OUT_BN = SWIGLU ? BN / 2 : BN;
    const int mTiles = (M + BM - 1) / BM;
    const int nTiles = (N + OUT_BN - 1) / OUT_BN;
    const int pid = blockIdx.x;
    const int perGroup = GROUP_M * nTiles;
    const int firstM = (pid / perGroup) * GROUP_M;
    const int groupRows = min(mTiles - firstM, GROUP_M);
    const int m0 = (firstM + (pid % perGroup) % groupRows) * BM;
    const int n0 = ((pid % perGroup) / groupRows) * OUT_BN;

    const int ldChunk = tid & 7;
    const int ldRow = tid >> 3;
    constexpr int ROWS_PER_PASS = THREADS / 8;

    auto loadStage = [&](int stage, int kTile) {
        const int k0 = kTile * BK + ldChunk * 8;
#pragma unroll
        for (int i = 0; i < BM / ROWS_PER_PASS; ++i) {
            const int r = ldRow + i * ROWS_PER_PASS;
            const int gr = m0 + r;
            const bool valid = gr < M;
            cp_async_16(sA + stage * A_STAGE + swizzle<ROW_BYTES>(r, ldChunk), A + (size_t)(valid ? gr : 0) * K + k0,
                        valid);
        }
#pragma unroll
        for (int i = 0; i < BN / ROWS_PER_PASS; ++i) {
            const int r = ldRow + i * ROWS_PER_PASS;
            int gr;
            bool valid;
            if (SWIGLU) {
                // Tile rows [0,128) are gate rows, [128,256) the up rows of the same 128 output columns.
                const int col = n0 + (r & (BN / 2 - 1));
                valid = col < N;
                gr = r < BN / 2 ? col : N + col;
            } else {
                gr = n0 + r;
                valid = gr < N;
            }
            cp_async_16(sB + stage * B_STAGE + swizzle<ROW_BYTES>(r, ldChunk), W + (size_t)(valid ? gr : 0) * K + k0,
                        valid);
        }
    };

    float acc[128];
#pragma unroll
    for (int i = 0; i < 128; ++i) acc[i] = 0.f;

    // Prefetch distance STAGES-2: the stage refilled in iteration kt was read by the wgmmas of tile
    // kt-2, which every warp has retired (wgmma_wait<1> at the end of iteration kt-1) before the barrier.
    const int kTiles = K / BK;
#pragma unroll
    for (int s = 0; s < STAGES - 2; ++s) {
        if (s < kTiles) loadStage(s, s);
        cp_async_commit();
    }
    for (int kt = 0; kt < kTiles; ++kt) {
        cp_async_wait<STAGES - 3>();
        fence_proxy_async();  // cp.async wrote through the generic proxy; wgmma reads through the async one
        __syncthreads();
        const int next = kt + STAGES - 2;
        if (next < kTiles) loadStage(next % STAGES, next);
        cp_async_commit();

        const int stage = kt % STAGES;
        const uint32_t tA = sA + stage * A_STAGE + wg * (64 * ROW_BYTES);
        const uint32_t tB = sB + stage * B_STAGE;
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < BK / 16; ++kk) wgmma_m64n256k16(acc, smem_desc(tA + kk * 32), smem_desc(tB + kk * 32));
        wgmma_commit();
        wgmma_wait<1>();
    }
    wgmma_wait<0>();
    cp_async_wait<0>();

    // Accumulator layout: acc[4j+e] at row 16*(warp%4) + lane/4 (+8 for e >= 2), column 8j + 2*(lane%4) + (e&1).
    const int rowBase = m0 + wg * 64 + (warp & 3) * 16 + (lane >> 2);
    const int colBase = (lane & 3) * 2;
    if (SWIGLU) {
#pragma unroll
        for (int j = 0; j < 16; ++j) {
            const int col = n0 + j * 8 + colBase;
            if (col >= N) continue;
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int row = rowBase + h * 8;
                if (row >= M) continue;
                const float g0 = acc[4 * j + 2 * h], g1 = acc[4 * j + 2 * h + 1];
                const float u0 = acc[4 * (j + 16) + 2 * h], u1 = acc[4 * (j + 16) + 2 * h + 1];
                *reinterpret_cast<__nv_bfloat162*>(C + (size_t)row * N + col) =
                    __floats2bfloat162_rn(g0 / (1.f + __expf(-g0)) * u0, g1 / (1.f + __expf(-g1)) * u1);
            }
        }
    } else {
#pragma unroll
        for (int j = 0; j < 32; ++j) {
            const int col = n0 + j * 8 + colBase;
            if (col >= N) continue;
            float b0 = 0.f, b1 = 0.f;
            if (bias != nullptr) {
                const float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(bias + col));
                b0 = b.x;
                b1 = b.y;
            }
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int row = rowBase + h * 8;
                if (row >= M) continue;
                float v0 = acc[4 * j + 2 * h] + b0;
                float v1 = acc[4 * j + 2 * h + 1] + b1;
                const size_t off = (size_t)row * N + col;
                if (R != nullptr) {
                    const float2 r = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(R + off));
                    v0 += r.x;
                    v1 += r.y;
                }
                if (C != nullptr) {
                    *reinterpret_cast<__nv_bfloat162*>(C + off) = __floats2bfloat162_rn(v0, v1);
                } else {
                    *reinterpret_cast<float2*>(Cf + off) = make_float2(v0, v1);
                }
            }
        }
    }
#else
    __trap();  // no wgmma in this build target; see the head comment
#endif
}

}  // namespace prefill_gemm_sm90

#define PREFILL_WGMMA_PARAMS                                                                         \
    const __nv_bfloat16 *__restrict__ A, const __nv_bfloat16 *__restrict__ W, __nv_bfloat16 *C, float *Cf, \
        const __nv_bfloat16 *__restrict__ bias, const __nv_bfloat16 *R, int M, int N, int K

extern "C" __global__ void __launch_bounds__(256, 1) prefill_gemm_wgmma_bf16(PREFILL_WGMMA_PARAMS) {
    prefill_gemm_sm90::gemm_tile<false>(A, W, C, Cf, bias, R, M, N, K);
}

extern "C" __global__ void __launch_bounds__(256, 1) prefill_gemm_wgmma_swiglu(PREFILL_WGMMA_PARAMS) {
    prefill_gemm_sm90::gemm_tile<true>(A, W, C, Cf, bias, R, M, N, K);
}

#undef PREFILL_WGMMA_PARAMS
#undef PREFILL_WGMMA_ENABLED

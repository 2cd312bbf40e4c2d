// tma_gemm_sm90.cuh: the warp-specialized prefill GEMMs of src/main/cuda/prefill_gemm_sm90.cu with
// their stages loaded by TMA instead of cp.async, for prefill_profile.cu to time and bit-compare beside
// the engine's kernels. Include after prefill_gemm_sm90.cu.
//
// Same tiles, stages, consumers, epilogue and therefore the same bits: one producer thread issues, per
// stage, one cp.async.bulk.tensor for the 128 x 64 A box and one (plain) or two (swiglu: the gate box at
// weight row n0, the up box at row N + n0) for the weight rows, completing on the stage's full barrier
// by transaction count. The 128-byte swizzle of the maps puts 16-byte chunk j of box row r at
// r * 128 + ((j ^ (r & 7)) << 4) from a 1024-aligned base, which is prefill_mma::swizzle<128>, the
// layout the wgmma descriptors read (tensormap_probe.cu checks it). Rows past a map's end load as zeros;
// a gate box that runs past N reads up rows instead, whose products land in columns the epilogue drops.
// The producer warpgroup keeps 40 registers a thread and gives the rest to the consumers (232).
//
// Maps (the host encodes them with cuTensorMapEncodeTiled; the engine has no binding for it, see
// tensormap_probe.cu): A: bf16, dims {K, M}, row stride 2K bytes, box {64, 128}; W: bf16, dims
// {K, rows} (N, or 2N for swiglu), row stride 2K, box {64, BN} plain or {64, BN / 2} swiglu; both
// with CU_TENSOR_MAP_SWIZZLE_128B and zero fill. Kernels are passed them as __grid_constant__ values.
#pragma once
#include <cuda.h>

namespace tma_gemm_sm90 {

using namespace prefill_gemm_sm90;
using namespace prefill_mma;

#ifdef QC_WGMMA_ENABLED
using namespace sm90;

static __device__ __forceinline__ void expect_tx(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

// Box (c0 = first column, c1 = first row) of the map into shared memory at dst, completing on bar.
static __device__ __forceinline__ void tma_load(uint32_t dst, const CUtensorMap* map, int c0, int c1, uint32_t bar) {
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
        ::"r"(dst), "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(bar)
        : "memory");
}
#endif

template <int BN, int STAGES, bool SWIGLU>
static __device__ __forceinline__ void gemm_tma(const CUtensorMap* mapA, const CUtensorMap* mapW, __nv_bfloat16* C,
                                                float* Cf, const __nv_bfloat16* __restrict__ bias, const void* R, int M,
                                                int N, int K) {
#ifdef QC_WGMMA_ENABLED
    constexpr int B_STAGE = BN * ROW_BYTES;
    constexpr uint32_t STAGE_TX = A_STAGE + B_STAGE;
    static_assert(!SWIGLU || ((BN / 2) * ROW_BYTES) % 1024 == 0, "the up box must start a swizzle group");
    extern __shared__ __align__(1024) unsigned char smem[];
    const uint32_t sA = (smem_addr(smem) + 1023u) & ~1023u;
    const uint32_t sB = sA + STAGES * A_STAGE;
    const uint32_t full = sB + STAGES * B_STAGE;
    const uint32_t empty = full + STAGES * 8;
    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int wg = warp >> 2;
    const int2 origin = tile_origin<SWIGLU ? BN / 2 : BN>(M, N);
    const int m0 = origin.x, n0 = origin.y;
    const int kTiles = K / BK;

    if (tid == 0) {
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(mapA)) : "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(mapW)) : "memory");
        for (int s = 0; s < STAGES; ++s) {
            mbar_init(full + 8 * s, 1);
            mbar_init(empty + 8 * s, 256);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        if (tid == 0) {
            for (int kt = 0; kt < kTiles; ++kt) {
                const int s = kt % STAGES;
                if (kt >= STAGES) mbar_wait(empty + 8 * s, ((kt / STAGES) - 1) & 1);
                expect_tx(full + 8 * s, STAGE_TX);
                tma_load(sA + s * A_STAGE, mapA, kt * BK, m0, full + 8 * s);
                if constexpr (SWIGLU) {
                    tma_load(sB + s * B_STAGE, mapW, kt * BK, n0, full + 8 * s);
                    tma_load(sB + s * B_STAGE + (BN / 2) * ROW_BYTES, mapW, kt * BK, N + n0, full + 8 * s);
                } else {
                    tma_load(sB + s * B_STAGE, mapW, kt * BK, n0, full + 8 * s);
                }
            }
        }
        if constexpr (!SWIGLU) {
            // The tile's residual rows into L2 once the last stage is issued, as the cp.async kernel does.
            asm volatile("barrier.sync 1, 128;\n" ::: "memory");
            if (R != nullptr) prefetch_tile_l2<BN>(R, C != nullptr ? 2 : 4, m0, n0, M, N, tid);
        }
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
        const int cw = wg - 1;
        float acc[BN / 2];
#pragma unroll
        for (int i = 0; i < BN / 2; ++i) acc[i] = 0.f;
        for (int kt = 0; kt < kTiles; ++kt) {
            const int s = kt % STAGES;
            mbar_wait(full + 8 * s, (kt / STAGES) & 1);
            const uint32_t tA = sA + s * A_STAGE + cw * (64 * ROW_BYTES);
            const uint32_t tB = sB + s * B_STAGE;
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < BK / 16; ++kk) wgmma_tile<BN>(acc, smem_desc(tA + kk * 32), smem_desc(tB + kk * 32));
            wgmma_commit();
            wgmma_wait<1>();
            if (kt > 0) mbar_arrive(empty + 8 * ((kt - 1) % STAGES));
        }
        wgmma_wait<0>();
        store_tile<BN, SWIGLU>(acc, m0 + cw * 64 + (warp & 3) * 16 + (lane >> 2), n0, lane, C, Cf, bias, R, M, N);
    }
#else
    __trap();
#endif
}

}  // namespace tma_gemm_sm90

#define TMA_GEMM_PARAMS                                                                                  \
    const __grid_constant__ CUtensorMap mapA, const __grid_constant__ CUtensorMap mapW, __nv_bfloat16 *C, \
        float *Cf, const __nv_bfloat16 *__restrict__ bias, const void *R, int M, int N, int K

extern "C" __global__ void __launch_bounds__(384, 1) prefill_gemm_tma_ws_bf16(TMA_GEMM_PARAMS) {
    tma_gemm_sm90::gemm_tma<256, 4, false>(&mapA, &mapW, C, Cf, bias, R, M, N, K);
}

extern "C" __global__ void __launch_bounds__(384, 1) prefill_gemm_tma_ws_swiglu_bn288(TMA_GEMM_PARAMS) {
    tma_gemm_sm90::gemm_tma<288, 4, true>(&mapA, &mapW, C, Cf, bias, R, M, N, K);
}

#undef TMA_GEMM_PARAMS

// prefill_epilogue.cuh: the store step shared by the prefill GEMMs (prefill_gemm.cu's mma.sync
// kernels and prefill_gemm_sm90.cu's wgmma kernels). Both hand over pairs of adjacent f32 sums
// (columns col, col+1 of one row), so the numerics of bias, residual and SwiGLU are written once
// and the two GEMM families cannot round differently. The parameter order (values before the
// offset) keeps the evaluation order of the code these helpers replaced, so the kernels' machine
// code did not change when they were introduced.
#pragma once
#include <cuda_bf16.h>
#include <stddef.h>

namespace prefill_epilogue {

// b0, b1 = bias[col], bias[col+1] as f32; zeros when the projection has no bias.
static __device__ __forceinline__ void bias_pair(const __nv_bfloat16* __restrict__ bias, int col, float& b0, float& b1) {
    b0 = 0.f;
    b1 = 0.f;
    if (bias != nullptr) {
        const float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(bias + col));
        b0 = b.x;
        b1 = b.y;
    }
}

// The residual pair at element offset off of R, as f32. R has the output's element type (bf16 with
// C, f32 with Cf) and may be the output itself: each element is read and written by the same thread.
static __device__ __forceinline__ float2 residual_pair(const void* R, const __nv_bfloat16* C, size_t off) {
    return C != nullptr ? __bfloat1622float2(static_cast<const __nv_bfloat162*>(R)[off / 2])
                        : static_cast<const float2*>(R)[off / 2];
}

// Stores v0, v1 (bias and residual already added) at element offset off of the output.
static __device__ __forceinline__ void store_out_pair(float v0, float v1, size_t off, __nv_bfloat16* C, float* Cf) {
    if (C != nullptr) {
        *reinterpret_cast<__nv_bfloat162*>(C + off) = __floats2bfloat162_rn(v0, v1);
    } else {
        *reinterpret_cast<float2*>(Cf + off) = make_float2(v0, v1);
    }
}

// Stores v0, v1 (bias already added) at element offset off of the output, adding the residual R
// first when given (residual_pair).
static __device__ __forceinline__ void store_pair(float v0, float v1, size_t off, __nv_bfloat16* C, float* Cf,
                                                  const void* R) {
    if (R != nullptr) {
        const float2 r = residual_pair(R, C, off);
        v0 += r.x;
        v1 += r.y;
    }
    store_out_pair(v0, v1, off, C, Cf);
}

// silu(g) * u for two columns, rounded once to bf16 at element offset off of C.
static __device__ __forceinline__ void store_swiglu_pair(__nv_bfloat16* C, size_t off, float g0, float g1, float u0,
                                                         float u1) {
    const float y0 = g0 / (1.f + __expf(-g0)) * u0;
    const float y1 = g1 / (1.f + __expf(-g1)) * u1;
    *reinterpret_cast<__nv_bfloat162*>(C + off) = __floats2bfloat162_rn(y0, y1);
}

}  // namespace prefill_epilogue

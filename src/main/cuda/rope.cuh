// rope.cuh: the q/k epilogue arithmetic every QKV path shares (gemv.cu's qkv GEMVs, rope_store.cu,
// and the qkv GEMM's fused epilogue in prefill_gemm_sm90.cu), so that a row's q, k and v have the
// same bits whichever of them produced it. Each rounding is spelled out (__fmul_rn, __fmaf_rn):
// left to the compiler, a*b - c*d may be contracted into an fma one way in one kernel and another
// way in the next, and the rotated keys in the cache would then depend on the kernel that wrote them.
// The tensor-core passes take c and s from a table computed once a pass (rope_store.cu's rope_table,
// rope_cos_sin for every row and frequency) instead of once a layer and head.
//   bias:     a + (keep ? bias : 0)                 (the bias lab's mask may drop it)
//   angle:    float(pos) * inv_freq[i]              one f32 rounding, then sincosf (full precision)
//   c, s:     cos(angle) * scale, sin(angle) * scale   (scale: YaRN's attention factor, else 1)
//   rotation: (x0, x1) -> (x0*c - x1*s, x1*c + x0*s) for the half-split pair (i, i + hd/2)
// CPU counterpart: Qwen2Forward#addBias and Rope#rotate.
#pragma once
#include <cuda_bf16.h>

namespace qc {

static __device__ __forceinline__ float rope_add_bias(float a, float bias, bool keep) {
    return a + (keep ? bias : 0.f);
}

static __device__ __forceinline__ float rope_bias(float a, const __nv_bfloat16* __restrict__ bias, int col, bool keep) {
    return rope_add_bias(a, __bfloat162float(bias[col]), keep);
}

static __device__ __forceinline__ void rope_cos_sin(int pos, float inv_freq, float scale, float& c, float& s) {
    float sn, cs;
    sincosf(__fmul_rn((float)pos, inv_freq), &sn, &cs);
    c = __fmul_rn(cs, scale);
    s = __fmul_rn(sn, scale);
}

static __device__ __forceinline__ void rope_rotate(float& a0, float& a1, float c, float s) {
    const float x0 = a0, x1 = a1;
    a0 = __fmaf_rn(x0, c, __fmul_rn(-x1, s));
    a1 = __fmaf_rn(x1, c, __fmul_rn(x0, s));
}

}  // namespace qc

// attention_decode.cu: causal GQA attention of R query rows against the bf16 KV cache, split over
// the KV length (flash-decoding): attn_partial computes, per (row, kv head, split of SPLIT tokens),
// the scores of the group's query heads, their max m and sum l of exp(s - m), and the
// unnormalised sum of p * V; attn_combine rescales the splits to a common max and normalises.
// Row r attends to cache positions 0..pos[r] of its slot (its own k/v were written by the QKV
// epilogue), so decode rows and the rows of a prefill chunk use the same kernels.
//   q      f32  [R][nH*hd]                      (RoPE applied)
//   caches bf16 [slots][nKv][maxT][hd]          (this layer)
//   part_o f32  [R][nH][nSplits][hd], part_ml f32 [R][nH][nSplits][2]
//   out    f32  [R][nH*hd]                      (input of o_proj)
// attn_partial launch: grid (nSplits, nKv, R), block 128; one pass over a KV head's split serves all
// group = nH/nKv query heads. Dynamic shared: (group*hd + group*SPLIT) floats. Splits past the row's
// length return at once, so the grid can be sized for maxT and captured in a CUDA graph.
// attn_combine launch: grid (nH, R), block 128 (hd <= 128... strided for larger).
// hd must be a multiple of 8 (checked on the host). CPU counterpart: CpuEngine's attention.
#include "common.cuh"

namespace attn {
constexpr int SPLIT = 128;  // tokens per split
constexpr int MAXG = 16;    // largest group size supported
}  // namespace attn

extern "C" __global__ void __launch_bounds__(128) attn_partial(
    const float* __restrict__ q, const __nv_bfloat16* __restrict__ kc, const __nv_bfloat16* __restrict__ vc,
    const int* __restrict__ slots, const int* __restrict__ pos, float* __restrict__ part_o,
    float* __restrict__ part_ml, int nH, int nKv, int hd, int maxT, int nSplits, float scale) {
    extern __shared__ float smem[];
    int split = blockIdx.x, kvh = blockIdx.y, r = blockIdx.z;
    int len = pos[r] + 1;
    int t0 = split * attn::SPLIT;
    if (t0 >= len) return;
    int n = min(attn::SPLIT, len - t0);
    int G = nH / nKv;
    float* qs = smem;              // [G][hd]
    float* sc = smem + G * hd;     // [G][SPLIT]
    __shared__ float ms[attn::MAXG], ls[attn::MAXG];
    const float* qrow = q + (size_t)r * nH * hd + (size_t)kvh * G * hd;
    for (int i = threadIdx.x; i < G * hd; i += blockDim.x) qs[i] = qrow[i];
    __syncthreads();
    size_t headBase = ((size_t)slots[r] * nKv + kvh) * maxT;
    // Phase 1: one thread per token, all G heads at once.
    for (int t = threadIdx.x; t < n; t += blockDim.x) {
        const uint4* krow = reinterpret_cast<const uint4*>(kc + (headBase + t0 + t) * hd);
        float acc[attn::MAXG];
#pragma unroll
        for (int g = 0; g < attn::MAXG; g++) acc[g] = 0.f;
        for (int d8 = 0; d8 < (hd >> 3); d8++) {
            float kf[8];
            qc::unpack8(krow[d8], kf);
#pragma unroll
            for (int g = 0; g < attn::MAXG; g++) {
                if (g < G) {
                    const float* qg = qs + g * hd + d8 * 8;
#pragma unroll
                    for (int j = 0; j < 8; j++) acc[g] = fmaf(qg[j], kf[j], acc[g]);
                }
            }
        }
#pragma unroll
        for (int g = 0; g < attn::MAXG; g++)
            if (g < G) sc[g * attn::SPLIT + t] = acc[g] * scale;
    }
    __syncthreads();
    // Phase 2: per head max and sum of exponentials; one warp per head.
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    for (int g = warp; g < G; g += warps) {
        float m = -INFINITY;
        for (int t = lane; t < n; t += 32) m = fmaxf(m, sc[g * attn::SPLIT + t]);
        m = qc::warp_max(m);
        float l = 0.f;
        for (int t = lane; t < n; t += 32) {
            float e = __expf(sc[g * attn::SPLIT + t] - m);
            sc[g * attn::SPLIT + t] = e;
            l += e;
        }
        l = qc::warp_sum(l);
        if (lane == 0) {
            ms[g] = m;
            ls[g] = l;
        }
    }
    __syncthreads();
    // Phase 3: p * V, one thread per dimension, all heads.
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float acc[attn::MAXG];
#pragma unroll
        for (int g = 0; g < attn::MAXG; g++) acc[g] = 0.f;
        const __nv_bfloat16* vcol = vc + (headBase + t0) * hd + d;
        for (int t = 0; t < n; t++) {
            float v = __bfloat162float(vcol[(size_t)t * hd]);
#pragma unroll
            for (int g = 0; g < attn::MAXG; g++)
                if (g < G) acc[g] = fmaf(sc[g * attn::SPLIT + t], v, acc[g]);
        }
#pragma unroll
        for (int g = 0; g < attn::MAXG; g++) {
            if (g < G) {
                int h = kvh * G + g;
                part_o[(((size_t)r * nH + h) * nSplits + split) * hd + d] = acc[g];
            }
        }
    }
    if (threadIdx.x < G) {
        int h = kvh * G + threadIdx.x;
        size_t i = (((size_t)r * nH + h) * nSplits + split) * 2;
        part_ml[i] = ms[threadIdx.x];
        part_ml[i + 1] = ls[threadIdx.x];
    }
}

extern "C" __global__ void __launch_bounds__(128) attn_combine(
    const float* __restrict__ part_o, const float* __restrict__ part_ml, const int* __restrict__ pos,
    float* __restrict__ out, int nH, int hd, int nSplits) {
    int h = blockIdx.x, r = blockIdx.y;
    int used = (pos[r] + 1 + attn::SPLIT - 1) / attn::SPLIT;
    const float* ml = part_ml + ((size_t)r * nH + h) * nSplits * 2;
    float M = -INFINITY;
    for (int s = 0; s < used; s++) M = fmaxf(M, ml[2 * s]);
    float L = 0.f;
    for (int s = 0; s < used; s++) L += ml[2 * s + 1] * __expf(ml[2 * s] - M);
    float invL = 1.f / L;
    const float* po = part_o + ((size_t)r * nH + h) * nSplits * hd;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float acc = 0.f;
        for (int s = 0; s < used; s++) acc += po[(size_t)s * hd + d] * __expf(ml[2 * s] - M);
        out[((size_t)r * nH + h) * hd + d] = acc * invL;
    }
}

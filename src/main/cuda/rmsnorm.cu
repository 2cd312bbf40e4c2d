// rmsnorm.cu: RMSNorm of f32 rows: out = w * (x * rsqrt(mean(x^2) + eps)). Activations stay f32
// between kernels (only weights and the KV cache are bf16), so the engine tracks the float32
// reference closely.
// CPU counterpart: Qwen2Forward#rmsNorm. It differs in two roundings only: it sums x^2 in double
// (here: f32 fmas, then a tree sum over the block) and takes 1/sqrt in double of the f32 mean plus
// eps (here: rsqrtf, within 2 ulp); the products w * (x * r) are the same f32 operations. Expect
// agreement to a few f32 ulps, not bit identity.
// x f32 [*][hidden], w bf16 [hidden], out f32 [rows][hidden] and/or out_bf16 (the same values
// rounded, as the tensor-core prefill GEMMs take them); either output may be null. rowIndex (may be null) picks the
// input row for output row blockIdx.x, so the final norm can run on only the rows whose logits
// are wanted. Launch: grid = rows, block = 256.
// Rows whose operands are 16-byte aligned with hidden % 4 == 0 (every Qwen2.5 size) go four floats a
// load, a quarter of the scalar loop's load instructions: with one float a load, a 256-row norm took
// 12 us on an H100 for 3.6 MB of reads. Other rows take the scalar loop, as do all with vectorize = 0
// (the benchmark's before). Rows of up to 4096 elements are read once, held in registers between the
// sum of squares and the scaling.
#include "common.cuh"

// Elements 4i..4i+3 of a row: w * (x * rstd) into f32 out and/or bf16 out_bf16 (either may be null).
static __device__ __forceinline__ void rmsnorm_store4(float4 v, float rstd, const __nv_bfloat162* __restrict__ w2, int i,
                                                      float* __restrict__ out, __nv_bfloat16* __restrict__ out_bf16) {
    const float2 wa = __bfloat1622float2(w2[2 * i]);
    const float2 wb = __bfloat1622float2(w2[2 * i + 1]);
    const float4 r = make_float4(wa.x * (v.x * rstd), wa.y * (v.y * rstd), wb.x * (v.z * rstd), wb.y * (v.w * rstd));
    if (out) reinterpret_cast<float4*>(out)[i] = r;
    if (out_bf16) {
        __nv_bfloat162 lo = __floats2bfloat162_rn(r.x, r.y), hi = __floats2bfloat162_rn(r.z, r.w);
        uint2 packed = make_uint2(*reinterpret_cast<uint32_t*>(&lo), *reinterpret_cast<uint32_t*>(&hi));
        reinterpret_cast<uint2*>(out_bf16)[i] = packed;
    }
}

extern "C" __global__ void __launch_bounds__(256, 8) rmsnorm_rows(const float* __restrict__ x, const __nv_bfloat16* __restrict__ w,
                                        float* __restrict__ out, __nv_bfloat16* __restrict__ out_bf16,
                                        const int* __restrict__ rowIndex,
                                        int hidden, float eps, int vectorize) {
    __shared__ float scratch[32];
    int src = rowIndex ? rowIndex[blockIdx.x] : blockIdx.x;
    const float* in = x + (size_t)src * hidden;
    size_t o = (size_t)blockIdx.x * hidden;
    const bool vec = vectorize && (hidden & 3) == 0
            && (((uintptr_t)in | (uintptr_t)w | (uintptr_t)(out ? out + o : nullptr) | (uintptr_t)(out_bf16 ? out_bf16 + o : nullptr))
                & 15) == 0;
    if (vec) {
        const float4* in4 = reinterpret_cast<const float4*>(in);
        const int n4 = hidden >> 2;
        const __nv_bfloat162* w2 = reinterpret_cast<const __nv_bfloat162*>(w);
        // Rows of up to KEEP float4s a thread stay in registers between the sum and the scaling: one read
        // of the row instead of two. Same words per thread in the same order either way, so same bits.
        constexpr int KEEP = 4;
        if (n4 <= KEEP * (int)blockDim.x) {
            float4 v[KEEP];
            float ss = 0.f;
#pragma unroll
            for (int u = 0; u < KEEP; ++u) {
                const int i = threadIdx.x + u * blockDim.x;
                v[u] = i < n4 ? in4[i] : make_float4(0.f, 0.f, 0.f, 0.f);
                if (i < n4) {
                    ss = fmaf(v[u].x, v[u].x, ss);
                    ss = fmaf(v[u].y, v[u].y, ss);
                    ss = fmaf(v[u].z, v[u].z, ss);
                    ss = fmaf(v[u].w, v[u].w, ss);
                }
            }
            ss = qc::block_sum(ss, scratch);
            const float rstd = rsqrtf(ss / (float)hidden + eps);
#pragma unroll
            for (int u = 0; u < KEEP; ++u) {
                const int i = threadIdx.x + u * blockDim.x;
                if (i < n4) rmsnorm_store4(v[u], rstd, w2, i, out ? out + o : nullptr, out_bf16 ? out_bf16 + o : nullptr);
            }
            return;
        }
        float ss = 0.f;
        for (int i = threadIdx.x; i < n4; i += blockDim.x) {
            const float4 v = in4[i];
            ss = fmaf(v.x, v.x, ss);
            ss = fmaf(v.y, v.y, ss);
            ss = fmaf(v.z, v.z, ss);
            ss = fmaf(v.w, v.w, ss);
        }
        ss = qc::block_sum(ss, scratch);
        const float rstd = rsqrtf(ss / (float)hidden + eps);
        for (int i = threadIdx.x; i < n4; i += blockDim.x) {
            rmsnorm_store4(in4[i], rstd, w2, i, out ? out + o : nullptr, out_bf16 ? out_bf16 + o : nullptr);
        }
        return;
    }
    float ss = 0.f;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) ss = fmaf(in[i], in[i], ss);
    ss = qc::block_sum(ss, scratch);
    float rstd = rsqrtf(ss / (float)hidden + eps);
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        float v = __bfloat162float(w[i]) * (in[i] * rstd);
        if (out) out[o + i] = v;
        if (out_bf16) out_bf16[o + i] = __float2bfloat16(v);
    }
}

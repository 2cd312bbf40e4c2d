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
#include "common.cuh"

extern "C" __global__ void rmsnorm_rows(const float* __restrict__ x, const __nv_bfloat16* __restrict__ w,
                                        float* __restrict__ out, __nv_bfloat16* __restrict__ out_bf16,
                                        const int* __restrict__ rowIndex,
                                        int hidden, float eps) {
    __shared__ float scratch[32];
    int src = rowIndex ? rowIndex[blockIdx.x] : blockIdx.x;
    const float* in = x + (size_t)src * hidden;
    float ss = 0.f;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) ss = fmaf(in[i], in[i], ss);
    ss = qc::block_sum(ss, scratch);
    float rstd = rsqrtf(ss / (float)hidden + eps);
    size_t o = (size_t)blockIdx.x * hidden;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        float v = __bfloat162float(w[i]) * (in[i] * rstd);
        if (out) out[o + i] = v;
        if (out_bf16) out_bf16[o + i] = __float2bfloat16(v);
    }
}

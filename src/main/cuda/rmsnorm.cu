// rmsnorm.cu: RMSNorm of f32 rows into bf16, rounded as transformers' Qwen2RMSNorm does:
// t = bf16(x * rsqrt(mean(x^2) + eps)), out = bf16(w * t), with the sum of squares in f32.
// x f32 [*][hidden], w bf16 [hidden], out bf16 [rows][hidden]. rowIndex (may be null) picks the
// input row for output row blockIdx.x, so the final norm can run on only the rows whose logits
// are wanted. Launch: grid = rows, block = 256. CPU counterpart: CpuEngine's rmsNorm.
#include "common.cuh"

extern "C" __global__ void rmsnorm_rows(const float* __restrict__ x, const __nv_bfloat16* __restrict__ w,
                                        __nv_bfloat16* __restrict__ out, const int* __restrict__ rowIndex,
                                        int hidden, float eps) {
    __shared__ float scratch[32];
    int src = rowIndex ? rowIndex[blockIdx.x] : blockIdx.x;
    const float* in = x + (size_t)src * hidden;
    float ss = 0.f;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) ss = fmaf(in[i], in[i], ss);
    ss = qc::block_sum(ss, scratch);
    float rstd = rsqrtf(ss / (float)hidden + eps);
    __nv_bfloat16* o = out + (size_t)blockIdx.x * hidden;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        float t = qc::round_bf16(in[i] * rstd);
        o[i] = __float2bfloat16(__bfloat162float(w[i]) * t);
    }
}

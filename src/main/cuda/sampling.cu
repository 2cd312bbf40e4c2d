// sampling.cu: greedy choice and top-k log-probabilities on the GPU, so only ids and a few floats
// cross to the host. For each row r of logits f32 [R][V]:
//   lse[r]          = log(sum(exp(logits)))  (max-shifted)
//   ids[r][0..k)    = the k largest logits, best first, ties to the lower id (as a stable argmax)
//   lps[r][0..k)    = logits[ids] - lse
// ids[r][0] is the greedy token. k = max(1, requested top logprobs) <= 20. Launch: grid = R,
// block = 1024. CPU counterpart: Sampler's greedy argmax and log-softmax.
#include "common.cuh"

namespace sampling {
constexpr int MAXK = 20;

static __device__ __forceinline__ void better(float& v, int& i, float v2, int i2) {
    if (v2 > v || (v2 == v && i2 < i)) {
        v = v2;
        i = i2;
    }
}
}  // namespace sampling

extern "C" __global__ void __launch_bounds__(1024) logits_topk(const float* __restrict__ logits, int V, int k,
                                                                 int* __restrict__ ids, float* __restrict__ lps,
                                                                 float* __restrict__ lse) {
    __shared__ float scratch[32];
    __shared__ float sv[32];
    __shared__ int si[32];
    __shared__ int picked[sampling::MAXK];
    const float* row = logits + (size_t)blockIdx.x * V;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) m = fmaxf(m, row[i]);
    m = qc::block_max(m, scratch);
    float s = 0.f;
    for (int i = threadIdx.x; i < V; i += blockDim.x) s += __expf(row[i] - m);
    s = qc::block_sum(s, scratch);
    float logZ = m + logf(s);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int j = 0; j < k; j++) {
        float bv = -INFINITY;
        int bi = 0x7fffffff;
        for (int i = threadIdx.x; i < V; i += blockDim.x) {
            bool taken = false;
            for (int q = 0; q < j; q++) taken |= picked[q] == i;
            if (!taken) sampling::better(bv, bi, row[i], i);
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            float v2 = __shfl_xor_sync(0xffffffffu, bv, o);
            int i2 = __shfl_xor_sync(0xffffffffu, bi, o);
            sampling::better(bv, bi, v2, i2);
        }
        if (lane == 0) {
            sv[warp] = bv;
            si[warp] = bi;
        }
        __syncthreads();
        if (warp == 0) {
            bv = lane < warps ? sv[lane] : -INFINITY;
            bi = lane < warps ? si[lane] : 0x7fffffff;
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) {
                float v2 = __shfl_xor_sync(0xffffffffu, bv, o);
                int i2 = __shfl_xor_sync(0xffffffffu, bi, o);
                sampling::better(bv, bi, v2, i2);
            }
            if (lane == 0) {
                // A row of NaNs leaves no winner: report id 0 rather than an out-of-range id.
                if (bi == 0x7fffffff) bi = 0;
                picked[j] = bi;
                ids[(size_t)blockIdx.x * k + j] = bi;
                lps[(size_t)blockIdx.x * k + j] = row[bi] - logZ;
            }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) lse[blockIdx.x] = logZ;
}

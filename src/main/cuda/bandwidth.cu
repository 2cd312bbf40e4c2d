// bandwidth.cu: a read-only streaming reduction used by the benchmark to measure the card's
// achievable memory bandwidth (the floor for batch-1 decode, which streams every weight once).
// Sums n 16-byte words (as 8 bf16 each) into out[blockIdx.x]; grid-stride loop, 4 loads in flight
// per thread. Launch: grid = 4 * SMs, block = 512. CPU counterpart: none needed (the sum only
// keeps the loads alive); GpuBenchCommand checks nothing but the time.
#include "common.cuh"

extern "C" __global__ void read_bandwidth(const uint4* __restrict__ p, long long n, float* __restrict__ out) {
    __shared__ float scratch[32];
    long long stride = (long long)gridDim.x * blockDim.x;
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    float acc = 0.f;
    for (; i + 3 * stride < n; i += 4 * stride) {
        uint4 a = __ldcs(p + i), b = __ldcs(p + i + stride), c = __ldcs(p + i + 2 * stride), d = __ldcs(p + i + 3 * stride);
        acc += __uint_as_float(a.x ^ b.y ^ c.z ^ d.w) * 1e-30f;
    }
    for (; i < n; i += stride) acc += __uint_as_float(p[i].x) * 1e-30f;
    acc = qc::block_sum(acc, scratch);
    if (threadIdx.x == 0) out[blockIdx.x] = acc;
}

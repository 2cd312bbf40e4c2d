// common.cuh: small device helpers shared by the kernel files. Everything here is static or
// inline so the single translation unit (build-kernels.sh includes every .cu) sees one copy.
#pragma once
#include <cuda_bf16.h>
#include <stdint.h>

namespace qc {

static __device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block; every thread gets the result. scratch holds >= 32 floats.
static __device__ __forceinline__ float block_sum(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < warps ? scratch[lane] : 0.f;
    return warp_sum(t);
}

static __device__ __forceinline__ float block_max(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < warps ? scratch[lane] : -INFINITY;
    return warp_max(t);
}

// 8 bf16 packed in 16 bytes, unpacked to float.
static __device__ __forceinline__ void unpack8(const uint4& u, float* f) {
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float2 t = __bfloat1622float2(h[i]);
        f[2 * i] = t.x;
        f[2 * i + 1] = t.y;
    }
}

static __device__ __forceinline__ float dot8(const uint4& a, const uint4& b) {
    float fa[8], fb[8];
    unpack8(a, fa);
    unpack8(b, fb);
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < 8; i++) s = fmaf(fa[i], fb[i], s);
    return s;
}

// 8 already-unpacked weights against 8 f32 activations (two 16-byte loads), in a fixed fma order.
static __device__ __forceinline__ float dot8ff(const float* f, const float4& a, const float4& b) {
    float s = f[0] * a.x;
    s = fmaf(f[1], a.y, s);
    s = fmaf(f[2], a.z, s);
    s = fmaf(f[3], a.w, s);
    s = fmaf(f[4], b.x, s);
    s = fmaf(f[5], b.y, s);
    s = fmaf(f[6], b.z, s);
    s = fmaf(f[7], b.w, s);
    return s;
}

// 8 bf16 weights (16 bytes) against 8 f32 activations: the same fma order as dot8ff.
static __device__ __forceinline__ float dot8f(const uint4& w, const float4& a, const float4& b) {
    float f[8];
    unpack8(w, f);
    return dot8ff(f, a, b);
}

static __device__ __forceinline__ float round_bf16(float v) {
    return __bfloat162float(__float2bfloat16(v));
}

// Paged KV cache addressing (DeviceKvCache): each layer's K and V pools are
// [totalBlocks][kvHeads][blockSize][hd] bf16 and a sequence's block table row lists its blocks in
// position order, so position p lives in block bt_row[p / block_size] at slot p % block_size.
// Returns the element offset of (p, kv head kvh, dim 0) in a pool. The head sits outside the slot
// so one head's keys of a block are a dense run of block_size * hd elements.
static __device__ __forceinline__ size_t kv_offset(const int* __restrict__ bt_row, int block_size, int kv_heads,
                                                   int kvh, int p, int hd) {
    int blk = __ldg(bt_row + p / block_size);
    return (((size_t)blk * kv_heads + kvh) * block_size + (p % block_size)) * hd;
}

// Programmatic dependent launch (compute capability 9.0 and up). A kernel the host launches with
// the programmatic-serialization attribute (DependentLaunch lists which; each calls pdl_wait) may
// start while the kernel before it in the stream still runs. pdl_wait() returns once
// that kernel has finished and its writes are visible; since every such kernel waits before it
// finishes, everything earlier in the stream has finished too. Before the wait a kernel may only
// read what no earlier kernel writes (weights) and write nothing. pdl_launch_dependents() lets the
// next kernel's blocks start as soon as every block of this one has started. Launched without the
// attribute, or compiled for an older GPU, both do nothing.
static __device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

static __device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

}  // namespace qc

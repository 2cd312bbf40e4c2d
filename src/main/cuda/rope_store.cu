// rope_store.cu: the QKV epilogue of gemv.cu as a kernel of its own, for rows whose fused q/k/v
// projection came from the tensor-core GEMM (prefill, large decode batches) as f32 without bias.
// rope_table: table[r][i] = (c, s) = rope_cos_sin(pos[r], inv_freq[i], rope_scale) (rope.cuh), f32
// [R][hd/2][2], once a pass for every layer's qkv_rope_store and fused qkv GEMM epilogue
// (prefill_gemm_sm90.cu). Launch: grid = R, block = 64, threads striding the hd/2 frequencies.
// qkv_rope_store: for row r and every pair (head h, i < hd/2) of q and k heads: v0 = qkv[r][h*hd+i]
// + bias, v1 = qkv[r][h*hd+i+hd/2] + bias, rotated by (c, s) = table[r][i] (rope.cuh spells out every
// rounding); q goes to q_out f32 [R][qDim] for rows r >= q_f32_from (the rows before it are a
// prompt chunk whose attention reads only q_bf16; 0 writes every row) and, when q_bf16 is not null, to
// q_bf16 [R][qDim] (the flash-attention input); k (rotated) and v (bias only) go to the paged bf16 pools
// [totalBlocks][kvHeads][blockSize][hd] at position pos[r] of sequence slots[r]: block
// block_table[slots[r]][pos[r] / block_size], slot pos[r] % block_size (qc::kv_offset). Every row
// must have its block allocated (KvBlockManager#append runs before the step). bias_off (the bias
// lab's mask, null on every ordinary pass): [R] limits::BIAS_* bits; a row skips the bias of each
// projection (q, k, v) whose bit it has. Launch: grid = R, block = 256; threads stride the pairs two
// adjacent ones at a time when hd/2 is even (8-byte f32 loads, 4-byte bf16 stores), else one.
// CPU counterpart: Qwen2Forward's bias add, Rope#rotate and KV append.
#include "common.cuh"
#include "limits.cuh"
#include "rope.cuh"

namespace rope_store {

// W adjacent pairs (i .. i+W-1 of one head, so one projection and one KV head) per thread step.
template <int W>
static __device__ __forceinline__ void store_pairs(const float* __restrict__ row, const __nv_bfloat16* __restrict__ bias,
                                                   const float* __restrict__ rot, int r, int p, int qDim, int kvDim,
                                                   int hd, const int* __restrict__ bt, int block_size, int off,
                                                   bool q_f32, float* __restrict__ q_out,
                                                   __nv_bfloat16* __restrict__ q_bf16, __nv_bfloat16* __restrict__ k_cache,
                                                   __nv_bfloat16* __restrict__ v_cache) {
    const int half = hd >> 1;
    const int n = qDim + 2 * kvDim;
    const int kvHeads = kvDim / hd;
    for (int pair = threadIdx.x * W; pair < (n >> 1); pair += blockDim.x * W) {
        const int head = pair / half, i = pair - head * half;
        const int r0 = head * hd + i, r1 = r0 + half;
        const int proj = r0 < qDim ? limits::BIAS_Q : r0 < qDim + kvDim ? limits::BIAS_K : limits::BIAS_V;
        const bool keep = !(off & proj);
        float a0[W], a1[W];
        if constexpr (W == 2) {
            const float2 x0 = *reinterpret_cast<const float2*>(row + r0);
            const float2 x1 = *reinterpret_cast<const float2*>(row + r1);
            a0[0] = x0.x; a0[1] = x0.y;
            a1[0] = x1.x; a1[1] = x1.y;
        } else {
            a0[0] = row[r0];
            a1[0] = row[r1];
        }
#pragma unroll
        for (int w = 0; w < W; ++w) {
            a0[w] = qc::rope_bias(a0[w], bias, r0 + w, keep);
            a1[w] = qc::rope_bias(a1[w], bias, r1 + w, keep);
            if (r0 < qDim + kvDim) qc::rope_rotate(a0[w], a1[w], rot[2 * (i + w)], rot[2 * (i + w) + 1]);
        }
        __nv_bfloat16* dst;
        size_t base;
        if (r0 < qDim) {
            if (q_f32) {
#pragma unroll
                for (int w = 0; w < W; ++w) {
                    q_out[(size_t)r * qDim + r0 + w] = a0[w];
                    q_out[(size_t)r * qDim + r1 + w] = a1[w];
                }
            }
            if (!q_bf16) continue;
            dst = q_bf16;
            base = (size_t)r * qDim + r0;
        } else {
            const bool isK = r0 < qDim + kvDim;
            const int rel = r0 - qDim - (isK ? 0 : kvDim);
            dst = isK ? k_cache : v_cache;
            base = qc::kv_offset(bt, block_size, kvHeads, rel / hd, p, hd) + i;
        }
        if constexpr (W == 2) {
            *reinterpret_cast<__nv_bfloat162*>(dst + base) = __halves2bfloat162(__float2bfloat16(a0[0]), __float2bfloat16(a0[1]));
            *reinterpret_cast<__nv_bfloat162*>(dst + base + half) =
                __halves2bfloat162(__float2bfloat16(a1[0]), __float2bfloat16(a1[1]));
        } else {
            dst[base] = __float2bfloat16(a0[0]);
            dst[base + half] = __float2bfloat16(a1[0]);
        }
    }
}

}  // namespace rope_store

extern "C" __global__ void rope_table(const int* __restrict__ pos, const float* __restrict__ inv_freq, float rope_scale,
                                      float* __restrict__ table, int hd) {
    const int half = hd >> 1;
    float2* row = reinterpret_cast<float2*>(table + (size_t)blockIdx.x * hd);
    const int p = pos[blockIdx.x];
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        float c, s;
        qc::rope_cos_sin(p, inv_freq[i], rope_scale, c, s);
        row[i] = make_float2(c, s);
    }
}

extern "C" __global__ void qkv_rope_store(const float* __restrict__ qkv, const __nv_bfloat16* __restrict__ bias,
                                          const float* __restrict__ rope_table, float* __restrict__ q_out,
                                          __nv_bfloat16* __restrict__ q_bf16, __nv_bfloat16* __restrict__ k_cache,
                                          __nv_bfloat16* __restrict__ v_cache, const int* __restrict__ slots,
                                          const int* __restrict__ pos, int qDim, int kvDim, int hd,
                                          const int* __restrict__ block_table, int max_blocks_per_seq, int block_size,
                                          const int* __restrict__ bias_off, int q_f32_from) {
    const int r = blockIdx.x;
    const int half = hd >> 1;
    const int p = pos[r];
    const float* rot = rope_table + (size_t)r * hd;  // [hd/2] pairs (c, s) of this row's position
    const float* row = qkv + (size_t)r * (qDim + 2 * kvDim);
    const int* bt = block_table + (size_t)slots[r] * max_blocks_per_seq;
    const int off = bias_off ? bias_off[r] : 0;
    const bool q_f32 = r >= q_f32_from;
    if ((half & 1) == 0) {
        rope_store::store_pairs<2>(row, bias, rot, r, p, qDim, kvDim, hd, bt, block_size, off, q_f32, q_out, q_bf16, k_cache,
                                   v_cache);
    } else {
        rope_store::store_pairs<1>(row, bias, rot, r, p, qDim, kvDim, hd, bt, block_size, off, q_f32, q_out, q_bf16, k_cache,
                                   v_cache);
    }
}

// out[i] = bf16(in[i]) for i < n: f32 activations into a tensor-core GEMM's bf16 operand.
// Launch: grid-stride, block 256.
extern "C" __global__ void f32_to_bf16(const float* __restrict__ in, __nv_bfloat16* __restrict__ out, long long n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16(in[i]);
}

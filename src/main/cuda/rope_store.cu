// rope_store.cu: the QKV epilogue of gemv.cu as a kernel of its own, for rows whose fused q/k/v
// projection came from the tensor-core GEMM (prefill, large decode batches) as f32 without bias.
// For row r and every pair (head h, i < hd/2) of q and k heads: v0 = qkv[r][h*hd+i] + bias,
// v1 = qkv[r][h*hd+i+hd/2] + bias, rotated by angle = float(pos[r]) * inv_freq[i] (cos and sin times
// rope_scale); q goes to q_out f32 [R][qDim] for rows r >= q_f32_from (the rows before it are a
// prompt chunk whose attention reads only q_bf16; 0 writes every row) and, when q_bf16 is not null, to
// q_bf16 [R][qDim] (the flash-attention input); k (rotated) and v (bias only) go to the paged bf16 pools
// [totalBlocks][kvHeads][blockSize][hd] at position pos[r] of sequence slots[r]: block
// block_table[slots[r]][pos[r] / block_size], slot pos[r] % block_size (qc::kv_offset). Every row
// must have its block allocated (KvBlockManager#append runs before the step). bias_off (the bias
// lab's mask, null on every ordinary pass): [R] limits::BIAS_* bits; a row skips the bias of each
// projection (q, k, v) whose bit it has. Launch: grid = R,
// block = 256, threads stride the pairs. CPU counterpart: Qwen2Forward's bias add, Rope#rotate and
// KV append.
#include "common.cuh"
#include "limits.cuh"

extern "C" __global__ void qkv_rope_store(const float* __restrict__ qkv, const __nv_bfloat16* __restrict__ bias,
                                          const float* __restrict__ inv_freq, float rope_scale, float* __restrict__ q_out,
                                          __nv_bfloat16* __restrict__ q_bf16, __nv_bfloat16* __restrict__ k_cache,
                                          __nv_bfloat16* __restrict__ v_cache, const int* __restrict__ slots,
                                          const int* __restrict__ pos, int qDim, int kvDim, int hd,
                                          const int* __restrict__ block_table, int max_blocks_per_seq, int block_size,
                                          const int* __restrict__ bias_off, int q_f32_from) {
    int r = blockIdx.x;
    int half = hd >> 1;
    int n = qDim + 2 * kvDim;
    const float* row = qkv + (size_t)r * n;
    int p = pos[r];
    int kvHeads = kvDim / hd;
    const int* bt = block_table + (size_t)slots[r] * max_blocks_per_seq;
    int off = bias_off ? bias_off[r] : 0;
    for (int pair = threadIdx.x; pair < (n >> 1); pair += blockDim.x) {
        int head = pair / half, i = pair - head * half;
        int r0 = head * hd + i, r1 = r0 + half;
        int proj = r0 < qDim ? limits::BIAS_Q : r0 < qDim + kvDim ? limits::BIAS_K : limits::BIAS_V;
        bool keep = !(off & proj);
        float a0 = row[r0] + (keep ? __bfloat162float(bias[r0]) : 0.f);
        float a1 = row[r1] + (keep ? __bfloat162float(bias[r1]) : 0.f);
        if (r0 < qDim + kvDim) {
            float s, c;
            sincosf((float)p * inv_freq[i], &s, &c);
            c *= rope_scale;
            s *= rope_scale;
            float x0 = a0, x1 = a1;
            a0 = x0 * c - x1 * s;
            a1 = x1 * c + x0 * s;
        }
        if (r0 < qDim) {
            if (r >= q_f32_from) {
                q_out[(size_t)r * qDim + r0] = a0;
                q_out[(size_t)r * qDim + r1] = a1;
            }
            if (q_bf16) {
                q_bf16[(size_t)r * qDim + r0] = __float2bfloat16(a0);
                q_bf16[(size_t)r * qDim + r1] = __float2bfloat16(a1);
            }
        } else {
            bool isK = r0 < qDim + kvDim;
            int rel = r0 - qDim - (isK ? 0 : kvDim);
            int kvh = rel / hd;
            size_t base = qc::kv_offset(bt, block_size, kvHeads, kvh, p, hd) + i;
            __nv_bfloat16* dst = isK ? k_cache : v_cache;
            dst[base] = __float2bfloat16(a0);
            dst[base + half] = __float2bfloat16(a1);
        }
    }
}

// out[i] = bf16(in[i]) for i < n: f32 activations into a tensor-core GEMM's bf16 operand.
// Launch: grid-stride, block 256.
extern "C" __global__ void f32_to_bf16(const float* __restrict__ in, __nv_bfloat16* __restrict__ out, long long n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16(in[i]);
}

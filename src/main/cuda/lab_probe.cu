// lab_probe.cu: the bias lab's attention statistics for one query row, read from the paged KV
// cache after the layer's QKV epilogue has stored the row's own key. For query head h of row r
// (position P = pos[r] of sequence slots[r]) and s_t = scale * q[r][h] . K[t][h/G] over t = 0..P:
//   m = max_t s_t,  Z = sum_t exp(s_t - m),  S = sum_t exp(s_t - m) * s_t
//   entropy = -sum_t p_t log p_t = m + log Z - S / Z   (p_t = exp(s_t - m) / Z, in nats)
//   sink    = p_0                                      (the weight on the first position)
// out[h][0] = entropy, out[h][1] = sink. Shapes: q f32 [R][nH*hd] (RoPE applied), pools bf16
// [totalBlocks][nKv][blockSize][hd] addressed through block_table[slots[r]] (qc::kv_offset, as in
// attention_decode.cu), out f32 [nH][2]. Launch: grid = nH, block = 256, threads stride the keys
// (two passes: the max, then Z and S); dynamic shared hd floats (the query). Probe passes only: no
// ordinary pass launches it. CPU counterpart: the probe in Qwen2Forward#attention.
#include "common.cuh"

extern "C" __global__ void attention_probe(const float* __restrict__ q, const __nv_bfloat16* __restrict__ k_cache,
                                           const int* __restrict__ slots, const int* __restrict__ pos, int row, int nH,
                                           int nKv, int hd, float scale, const int* __restrict__ block_table,
                                           int max_blocks_per_seq, int block_size, float* __restrict__ out) {
    extern __shared__ float qs[];  // [hd]
    __shared__ float scratch[32];
    int h = blockIdx.x;
    int kvh = h / (nH / nKv);
    int len = pos[row] + 1;
    const int* bt = block_table + (size_t)slots[row] * max_blocks_per_seq;
    const float* qrow = q + (size_t)row * nH * hd + (size_t)h * hd;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) qs[d] = qrow[d];
    __syncthreads();
    float m = -INFINITY;
    for (int t = threadIdx.x; t < len; t += blockDim.x) {
        const __nv_bfloat16* k = k_cache + qc::kv_offset(bt, block_size, nKv, kvh, t, hd);
        float s = 0.f;
        for (int d = 0; d < hd; d++) s = fmaf(qs[d], __bfloat162float(k[d]), s);
        m = fmaxf(m, s * scale);
    }
    m = qc::block_max(m, scratch);
    float z = 0.f, zs = 0.f, z0 = 0.f;
    for (int t = threadIdx.x; t < len; t += blockDim.x) {
        const __nv_bfloat16* k = k_cache + qc::kv_offset(bt, block_size, nKv, kvh, t, hd);
        float s = 0.f;
        for (int d = 0; d < hd; d++) s = fmaf(qs[d], __bfloat162float(k[d]), s);
        s *= scale;
        float e = __expf(s - m);
        z += e;
        zs += e * s;
        if (t == 0) z0 = e;
    }
    z = qc::block_sum(z, scratch);
    zs = qc::block_sum(zs, scratch);
    z0 = qc::block_sum(z0, scratch);
    if (threadIdx.x == 0) {
        out[2 * h] = m + logf(z) - zs / z;
        out[2 * h + 1] = z0 / z;
    }
}

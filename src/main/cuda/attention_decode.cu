// attention_decode.cu: causal GQA attention of R query rows against the paged bf16 KV cache, split
// over the KV length (flash-decoding): attn_partial computes, per (row, kv head, split of SPLIT
// tokens), the scores of the group's query heads, their max m and sum l of exp(s - m), and the
// unnormalised sum of p * V; attn_combine rescales the splits to a common max and normalises.
//   O[r][h] = sum_{t <= pos[r]} softmax_t(q[r][h] . K[t][h/G] * scale) V[t][h/G],  G = nH / nKv
// Row r attends to positions 0..pos[r] of sequence slots[r] (its own k/v were written by the QKV
// epilogue), so decode rows and the rows of a prefill chunk use the same kernels.
//   q      f32  [R][nH*hd]                      (RoPE applied)
//   pools  bf16 [totalBlocks][nKv][blockSize][hd] (this layer's K and V)
//   block_table int32 [maxSequences][max_blocks_per_seq]: position t of sequence s is slot
//          t % blockSize of block block_table[s][t / blockSize] (qc::kv_offset)
//   part_o f32  [R][nH][nSplits][hd], part_ml f32 [R][nH][nSplits][2]
//   out    f32  [R][nH*hd]                      (input of o_proj)
//   out_bf16 bf16 [R][nH*hd], the same values rounded (the tensor-core o_proj's operand); either
//          output may be null
// attn_partial_hd{64,128} launch: grid (nSplits, nKv, R), block 128; one pass over a KV head's split
// serves all group = nH/nKv query heads: first the split's SPLIT token addresses are resolved
// through the block table into shared memory (any block size works; a split may straddle blocks),
// then scores with two threads per token (each first asks L2 for the V half-row phase 3 will read),
// then p*V with the 4 warps taking every 4th token and each
// lane 2 or 4 dims, summed over warps in shared memory. Dynamic shared: (G*hd + G*SPLIT + 4*G*hd)
// floats. Splits past the row's length return at once, so the grid can be sized for the longest row
// and captured in a CUDA graph; the block table lives at a fixed device address for the same reason.
// attn_combine launch: grid (nH, R), block 128 (dims strided); span is the tokens per split the
// partials were made with (SPLIT, limits::ATTN_SPLIT, for this file's kernels; a multiple of it for
// attn_partial_mma_*), so row r has ceil((pos[r]+1)/span) splits.
// attn_combine waits for the kernel before it first (qc::pdl_wait): it may be a dependent launch.
// Group buckets: attn_partial_hd{64,128}_g{4,8,16} size the per-thread register arrays (scores of
// phase 1, p*V accumulators of phase 3) for at most 4, 8 or 16 heads per group; the host picks the
// smallest bucket >= G (Qwen2.5's groups of 5..8 take g8, half the registers of the 16-wide
// attn_partial_hd{64,128}, which stay for the switch being off). Same sums in the same order.
// attn_fused_hd{64,128}_g{4,8,16}: attn_partial plus the combine in one launch (same grid and
// shared memory). counters int [R][nKv], all 0 before the launch and left 0 after it: each split
// block fences its partials and counts itself in counters[r][kvh]; the block that brings the count
// to the row's used splits ceil((pos[r]+1)/SPLIT) combines the group's heads (combine_group) and
// resets the counter. The combine reads the same partials as attn_combine and sums the splits in
// the same order; only L (a warp butterfly here, a block tree there) is rounded differently.
// CPU counterpart: Qwen2Forward's attention (qwenchat.engine.cpu).
#include "common.cuh"
#include "limits.cuh"

namespace attn {
constexpr int SPLIT = limits::ATTN_SPLIT;     // tokens per split (limits.cuh)
constexpr int THREADS = 128;

// The last split block of (row r, kv head kvh) to finish combines the row's splits for the group's
// heads, in split order 0..used-1 and a fixed thread layout, so the sums do not depend on which
// block finished last nor on the row's batch mates. Warp g (and every WARPS-th after it) reduces
// head g's max M and denominator L = sum_s l_s * exp(m_s - M) over the splits (lanes stride s, then
// a butterfly); the split weights exp(m_s - M) go to shared memory (wts, the partial's dynamic
// shared memory, cap splits per head; later splits recompute theirs), then thread i produces the
// outputs j = i + THREADS*c of the G*HD as sum_s part_o[s][d] * w_s, then * (1/L): the order and
// operations of attn_combine. A thread's C outputs are independent, so each split issues C loads
// at once: the single block must hide L2 latency that attn_combine spread over nH blocks.
template <int HD, int MAXG>
static __device__ __forceinline__ void combine_group(const float* __restrict__ part_o, const float* __restrict__ part_ml,
                                                     float* __restrict__ out, __nv_bfloat16* __restrict__ out_bf16,
                                                     int r, int kvh, int G, int nH, int nSplits, int used, float* ms,
                                                     float* ls, float* wts, int cap) {
    constexpr int WARPS = THREADS / 32;
    constexpr int C = (MAXG * HD + THREADS - 1) / THREADS;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const float* ml0 = part_ml + ((size_t)r * nH + (size_t)kvh * G) * nSplits * 2;  // [G][nSplits][2]
    for (int g = warp; g < G; g += WARPS) {
        const float* ml = ml0 + (size_t)g * nSplits * 2;
        float m = -INFINITY;
        for (int s = lane; s < used; s += 32) m = fmaxf(m, __ldcg(ml + 2 * s));
        m = qc::warp_max(m);
        float l = 0.f;
        for (int s = lane; s < used; s += 32) {
            float w = __expf(__ldcg(ml + 2 * s) - m);
            if (s < cap) wts[g * cap + s] = w;
            l += __ldcg(ml + 2 * s + 1) * w;
        }
        l = qc::warp_sum(l);
        if (lane == 0) {
            ms[g] = m;
            ls[g] = l;
        }
    }
    __syncthreads();
    const float* po0 = part_o + ((size_t)r * nH + (size_t)kvh * G) * nSplits * HD;  // [G][nSplits][HD]
    float acc[C];
#pragma unroll
    for (int c = 0; c < C; c++) acc[c] = 0.f;
    const int total = G * HD;
    // Output c's g is (threadIdx.x + c * THREADS) / HD; its part_o column advances by HD per split.
#pragma unroll 1
    for (int s = 0; s < used; s++) {
        const float* col = po0 + (size_t)s * HD + threadIdx.x;
#pragma unroll
        for (int c = 0; c < C; c++) {
            int j = threadIdx.x + c * THREADS;
            if (j < total) {
                int g = (c * THREADS) / HD + (HD < THREADS ? (int)threadIdx.x / HD : 0);
                float w = s < cap ? wts[g * cap + s] : __expf(__ldcg(ml0 + ((size_t)g * nSplits + s) * 2) - ms[g]);
                // element (g, s, d) of [G][nSplits][HD], d = j - g * HD
                acc[c] = fmaf(__ldcg(col + (size_t)g * (nSplits - 1) * HD + c * THREADS), w, acc[c]);
            }
        }
    }
#pragma unroll
    for (int c = 0; c < C; c++) {
        int j = threadIdx.x + c * THREADS;
        if (j < total) {
            int g = j / HD, d = j - g * HD;
            const float o = acc[c] * (1.f / ls[g]);
            size_t at = ((size_t)r * nH + (size_t)kvh * G + g) * HD + d;
            if (out) out[at] = o;
            if (out_bf16) out_bf16[at] = __float2bfloat16(o);
        }
    }
}

// DPL = head dims per lane (hd = 32 * DPL: 2 for head_dim 64, 4 for 128). MAXG = the register
// arrays' group width: the smallest compiled bucket >= G (see the file header). FUSED: counters
// non-null and out/out_bf16 receive the combined rows (attn_fused_*); else only the partials.
template <int DPL, int MAXG, bool FUSED>
static __device__ __forceinline__ void partial(
    const float* __restrict__ q, const __nv_bfloat16* __restrict__ kc, const __nv_bfloat16* __restrict__ vc,
    const int* __restrict__ slots, const int* __restrict__ pos, float* __restrict__ part_o,
    float* __restrict__ part_ml, int nH, int nKv, int nSplits, float scale, const int* __restrict__ block_table,
    int max_blocks_per_seq, int block_size, int* __restrict__ counters, float* __restrict__ out,
    __nv_bfloat16* __restrict__ out_bf16) {
    constexpr int HD = 32 * DPL;
    constexpr int WARPS = THREADS / 32;
    extern __shared__ float smem[];
    int split = blockIdx.x, kvh = blockIdx.y, r = blockIdx.z;
    int len = pos[r] + 1;
    int t0 = split * SPLIT;
    if (t0 >= len) return;
    int n = min(SPLIT, len - t0);
    int G = nH / nKv;
    float* qs = smem;                    // [G][HD]
    float* sc = qs + G * HD;             // [G][SPLIT]
    float* red = sc + G * SPLIT;         // [WARPS][G][HD]
    __shared__ float ms[MAXG], ls[MAXG];
    __shared__ size_t rowAt[SPLIT];      // element offset of token t0 + t (this kv head) in the pools
    const float* qrow = q + (size_t)r * nH * HD + (size_t)kvh * G * HD;
    for (int i = threadIdx.x; i < G * HD; i += THREADS) qs[i] = qrow[i];
    if (threadIdx.x < n) {
        const int* bt = block_table + (size_t)slots[r] * max_blocks_per_seq;
        rowAt[threadIdx.x] = qc::kv_offset(bt, block_size, nKv, kvh, t0 + threadIdx.x, HD);
    }
    __syncthreads();
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    // Phase 1: two threads per token (adjacent lanes, half the dims each), all G heads at once.
    {
        int t = threadIdx.x >> 1, halfSel = threadIdx.x & 1;
        bool live = t < n;
        // Phase 3 reads this token's V half-row (one 128-byte line: rows start at multiples of HD
        // elements) only after the scores and the softmax; asking L2 for it now overlaps its
        // memory latency with theirs.
        if (live) asm volatile("prefetch.global.L2 [%0];" ::"l"(vc + rowAt[t] + halfSel * (HD / 2)));
        const uint4* krow = reinterpret_cast<const uint4*>(kc + rowAt[live ? t : 0]) + halfSel * (HD / 16);
        float acc[MAXG];
#pragma unroll
        for (int g = 0; g < MAXG; g++) acc[g] = 0.f;
        uint4 kv4[HD / 16];
#pragma unroll
        for (int d8 = 0; d8 < HD / 16; d8++) kv4[d8] = live ? krow[d8] : make_uint4(0, 0, 0, 0);
#pragma unroll
        for (int d8 = 0; d8 < HD / 16; d8++) {
            float kf[8];
            qc::unpack8(kv4[d8], kf);
#pragma unroll
            for (int g = 0; g < MAXG; g++) {
                if (g < G) {
                    const float* qg = qs + g * HD + halfSel * (HD / 2) + d8 * 8;
#pragma unroll
                    for (int j = 0; j < 8; j++) acc[g] = fmaf(qg[j], kf[j], acc[g]);
                }
            }
        }
#pragma unroll
        for (int g = 0; g < MAXG; g++) {
            if (g < G) {
                float v = acc[g] + __shfl_xor_sync(0xffffffffu, acc[g], 1);
                if (live && halfSel == 0) sc[g * SPLIT + t] = v * scale;
            }
        }
    }
    __syncthreads();
    // Phase 2: per head max and sum of exponentials; one warp per head.
    for (int g = warp; g < G; g += WARPS) {
        float m = -INFINITY;
        for (int t = lane; t < n; t += 32) m = fmaxf(m, sc[g * SPLIT + t]);
        m = qc::warp_max(m);
        float l = 0.f;
        for (int t = lane; t < n; t += 32) {
            float e = __expf(sc[g * SPLIT + t] - m);
            sc[g * SPLIT + t] = e;
            l += e;
        }
        l = qc::warp_sum(l);
        if (lane == 0) {
            ms[g] = m;
            ls[g] = l;
        }
    }
    __syncthreads();
    // Phase 3: p * V. Warps take every WARPS-th token, lanes DPL dims each; then a sum over warps.
    {
        float acc[MAXG][DPL];
#pragma unroll
        for (int g = 0; g < MAXG; g++)
#pragma unroll
            for (int j = 0; j < DPL; j++) acc[g][j] = 0.f;
        const __nv_bfloat16* vbase = vc + lane * DPL;
#pragma unroll 4
        for (int t = warp; t < n; t += WARPS) {
            float v[DPL];
            if constexpr (DPL == 4) {
                uint2 u = *reinterpret_cast<const uint2*>(vbase + rowAt[t]);
                float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.x));
                float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.y));
                v[0] = a.x;
                v[1] = a.y;
                v[2] = b.x;
                v[3] = b.y;
            } else {
#pragma unroll
                for (int j = 0; j < DPL; j += 2) {
                    float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(vbase + rowAt[t] + j));
                    v[j] = a.x;
                    v[j + 1] = a.y;
                }
            }
#pragma unroll
            for (int g = 0; g < MAXG; g++) {
                if (g < G) {
                    float p = sc[g * SPLIT + t];
#pragma unroll
                    for (int j = 0; j < DPL; j++) acc[g][j] = fmaf(p, v[j], acc[g][j]);
                }
            }
        }
#pragma unroll
        for (int g = 0; g < MAXG; g++)
            if (g < G)
#pragma unroll
                for (int j = 0; j < DPL; j++) red[(warp * G + g) * HD + lane * DPL + j] = acc[g][j];
    }
    __syncthreads();
    for (int i = threadIdx.x; i < G * HD; i += THREADS) {
        int g = i / HD, d = i - g * HD;
        float o = 0.f;
#pragma unroll
        for (int w = 0; w < WARPS; w++) o += red[(w * G + g) * HD + d];
        int h = kvh * G + g;
        part_o[(((size_t)r * nH + h) * nSplits + split) * HD + d] = o;
    }
    if (threadIdx.x < G) {
        int h = kvh * G + threadIdx.x;
        size_t i = (((size_t)r * nH + h) * nSplits + split) * 2;
        part_ml[i] = ms[threadIdx.x];
        part_ml[i + 1] = ls[threadIdx.x];
    }
    if constexpr (FUSED) {
        __shared__ int lastSplit;
        int used = (len + SPLIT - 1) / SPLIT;
        __threadfence();  // this split's partials reach L2 before it is counted
        __syncthreads();
        int* counter = counters + (size_t)r * nKv + kvh;
        if (threadIdx.x == 0) lastSplit = atomicAdd(counter, 1) == used - 1;
        __syncthreads();
        if (!lastSplit) return;
        __threadfence();
        // The whole dynamic shared memory is free now: G * (5 * HD + SPLIT) floats, a row of weights per head.
        combine_group<HD, MAXG>(part_o, part_ml, out, out_bf16, r, kvh, G, nH, nSplits, used, ms, ls, smem,
                                5 * HD + SPLIT);
        if (threadIdx.x == 0) *counter = 0;  // ready for the next launch (or graph replay)
    }
}
}  // namespace attn

#define ATTN_PARTIAL(NAME, DPL, MAXG)                                                                        \
    extern "C" __global__ void __launch_bounds__(attn::THREADS) NAME(                                        \
        const float* __restrict__ q, const __nv_bfloat16* __restrict__ kc, const __nv_bfloat16* __restrict__ vc, \
        const int* __restrict__ slots, const int* __restrict__ pos, float* __restrict__ part_o,              \
        float* __restrict__ part_ml, int nH, int nKv, int nSplits, float scale, const int* __restrict__ block_table, \
        int max_blocks_per_seq, int block_size) {                                                            \
        attn::partial<DPL, MAXG, false>(q, kc, vc, slots, pos, part_o, part_ml, nH, nKv, nSplits, scale,     \
                                        block_table, max_blocks_per_seq, block_size, nullptr, nullptr, nullptr); \
    }

#define ATTN_FUSED(NAME, DPL, MAXG, MINB)                                                                          \
    extern "C" __global__ void __launch_bounds__(attn::THREADS, MINB) NAME(                                        \
        const float* __restrict__ q, const __nv_bfloat16* __restrict__ kc, const __nv_bfloat16* __restrict__ vc, \
        const int* __restrict__ slots, const int* __restrict__ pos, float* __restrict__ part_o,              \
        float* __restrict__ part_ml, int nH, int nKv, int nSplits, float scale, const int* __restrict__ block_table, \
        int max_blocks_per_seq, int block_size, int* __restrict__ counters, float* __restrict__ out,          \
        __nv_bfloat16* __restrict__ out_bf16) {                                                              \
        attn::partial<DPL, MAXG, true>(q, kc, vc, slots, pos, part_o, part_ml, nH, nKv, nSplits, scale,      \
                                       block_table, max_blocks_per_seq, block_size, counters, out, out_bf16); \
    }

// Fused kernels of 4- and 8-wide groups are held to 64 registers (8 blocks of 128 threads per SM,
// as their attn_partial twins reach unforced); the combine alone would take them to 72.
// The un-suffixed kernels are the original 16-wide ones (ATTN_MAX_GROUP), kept for the
// group-bucket switch being off.
ATTN_PARTIAL(attn_partial_hd64, 2, limits::ATTN_MAX_GROUP)
ATTN_PARTIAL(attn_partial_hd128, 4, limits::ATTN_MAX_GROUP)
#define ATTN_BUCKETS(DPL, HDNAME)                                   \
    ATTN_PARTIAL(attn_partial_##HDNAME##_g4, DPL, 4)                \
    ATTN_PARTIAL(attn_partial_##HDNAME##_g8, DPL, 8)                \
    ATTN_PARTIAL(attn_partial_##HDNAME##_g16, DPL, 16)              \
    ATTN_FUSED(attn_fused_##HDNAME##_g4, DPL, 4, 8)                 \
    ATTN_FUSED(attn_fused_##HDNAME##_g8, DPL, 8, 8)                 \
    ATTN_FUSED(attn_fused_##HDNAME##_g16, DPL, 16, 1)
ATTN_BUCKETS(2, hd64)
ATTN_BUCKETS(4, hd128)

extern "C" __global__ void __launch_bounds__(128) attn_combine(
    const float* __restrict__ part_o, const float* __restrict__ part_ml, const int* __restrict__ pos,
    float* __restrict__ out, __nv_bfloat16* __restrict__ out_bf16, int nH, int hd, int nSplits, int span,
    int late_trigger) {
    // Split weights exp(m_s - M) / L, computed once by the block (the splits in parallel) and then
    // applied by one thread per dimension; at 8K context a row has 128 splits.
    constexpr int MAX_SPLITS = 4096;
    __shared__ float wts[MAX_SPLITS];
    __shared__ float scratch[32];
    // late_trigger: the kernel after starts as this one's blocks exit, not while they load the
    // partials (attention_decode_mma.cu says why).
    if (!late_trigger) qc::pdl_launch_dependents();
    qc::pdl_wait();  // the partials of the launch just before (common.cuh)
    int h = blockIdx.x, r = blockIdx.y;
    int used = (pos[r] + span) / span;  // ceil((pos + 1) / span)
    const float* ml = part_ml + ((size_t)r * nH + h) * nSplits * 2;
    float m = -INFINITY;
    for (int s = threadIdx.x; s < used; s += blockDim.x) m = fmaxf(m, ml[2 * s]);
    float M = qc::block_max(m, scratch);
    float l = 0.f;
    for (int s = threadIdx.x; s < used; s += blockDim.x) {
        float w = __expf(ml[2 * s] - M);
        if (s < MAX_SPLITS) wts[s] = w;
        l += ml[2 * s + 1] * w;
    }
    float L = qc::block_sum(l, scratch);  // ends with __syncthreads, so wts is complete
    float invL = 1.f / L;
    const float* po = part_o + ((size_t)r * nH + h) * nSplits * hd;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float acc = 0.f;
#pragma unroll 8
        for (int s = 0; s < used; s++) {
            float w = s < MAX_SPLITS ? wts[s] : __expf(ml[2 * s] - M);
            acc = fmaf(po[(size_t)s * hd + d], w, acc);
        }
        const float o = acc * invL;
        if (out) out[((size_t)r * nH + h) * hd + d] = o;
        if (out_bf16) out_bf16[((size_t)r * nH + h) * hd + d] = __float2bfloat16(o);
    }
}

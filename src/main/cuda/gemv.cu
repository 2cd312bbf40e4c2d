// gemv.cu: the decode projections, a weight-streaming skinny GEMM for 1..64 rows of activations.
//   acc[b][n] = sum_k W[n][k] * X[b][k]     W bf16 [N][K] row-major, X f32 [B][K], f32 accumulate
// Each warp owns a PAIR of weight rows and BT activation rows; lanes stride K in 16-byte loads
// (8 bf16), UNROLL iterations' loads are issued before any math so several loads are in flight,
// and a butterfly shuffle leaves every lane all 2*BT sums so lane b < BT runs the epilogue for
// activation row b. K must be a multiple of 8 (checked on the host). Which rows form a pair is
// what lets epilogues fuse:
//   plain    rows (2p, 2p+1)             out_f32[b][n] = acc                        (lm_head)
//   residual rows (2p, 2p+1)             x[b][n] += acc                             (o_proj, down_proj)
//   qkv      rows (h*hd+i, h*hd+i+hd/2)  + bias (skipped for the rows' projection, q, k or v, where the
//                                        bias lab's bias_off[b] has its limits::BIAS_* bit; bias_off null:
//                                        always added), RoPE (half-split, rope.cuh) on q and k, q -> q_out f32
//                                        [B][qDim], k and v -> the paged bf16 KV pools at position
//                                        pos[b] of sequence slots[b], through its block table row
//                                        (qc::kv_offset; pools [blocks][kvHeads][blockSize][hd])
//   swiglu   rows (p, I+p)               act[b][p] = silu(gate) * up (f32)          (gate/up fused)
// Launch: block 32*W (W = 8, or 4 for qkv), grid.x = ceil(pairs/(W/KS)), grid.y = ceil(B/BT).
// K split (the _ks2 and _ks4 kernels of tiles bt1..bt8, KS = 2 or 4; the others KS = 1): KS
// consecutive warps share a pair, warp s of them taking words s*32+lane, (s+KS)*32+lane, ...; each
// reduces its sums over the lanes, and the first adds the others' from shared memory in warp order
// before the epilogue. A row's sums depend on KS, never on BT or its batch mates; the host picks KS
// from K and W only (GemvShape.splitsK). Loads of each group of UNROLL words are predicated, the last
// partial group too, so a lane's words are summed in increasing k for every KS.
// Norm folding (gemv_{plain,qkv,swiglu}_norm_bt{1,2,4,8}): X is the f32 residual stream and the
// activation row is RMSNorm'ed on the fly,
//   acc[b][n] = rstd_b * sum_k W[n][k] * (w[k] * x[b][k]),  rstd_b = rsqrt(sum_k x[b][k]^2 / K + eps)
// with norm weight w bf16 [K]; activation row b is X row row_index[b] when row_index is non-null
// (lm_head on the logit rows only). No separate rmsnorm_rows launch and no normed copy. The sums of
// squares come one of two ways (the norm kernels' last argument):
//   streamed (non-zero): each pair's warps add x^2 over the very words of x their dot products load
//     (lane order, then the butterfly, then the slices in order, as the dot products), so nothing
//     waits for the norm before the weights stream; every pair of a row sums in the same order, so
//     every output of the row gets the same rstd bits;
//   block (zero): every block first reduces its BT rows' sums over K with all its threads (f32 fmas,
//     warp butterflies, then the warps in order; x from L2) before its weight loop.
// The two round differently (a few f32 ulps of rstd). Rounding also differs from rmsnorm_rows + gemv:
// there each activation is rounded to f32 as w * (x * rstd) before the dot product; here w * x is
// rounded, the dot product accumulated, and rstd applied once to the sum. Agreement with the
// two-kernel path is to a few f32 ulps of the result, not bit identity.
// Dependent launch (common.cuh, pdl_wait): every kernel here issues its first group of weight loads,
// then waits for the previous kernel, so under a programmatic dependent launch the weights start
// streaming while that kernel finishes.
// CPU counterparts, all in Qwen2Forward#run: MatrixOps#matmul, then per epilogue Qwen2Forward#addBias,
// Rope#rotate and the copy into the sequence's KV arrays (qkv), the SwiGLU loop (swiglu) and
// Qwen2Forward#addInto (residual); the norm kernels also Qwen2Forward#rmsNorm (which rounds
// w * (x * rstd) per element and sums x^2 in double; see norm folding above).
#include "common.cuh"
#include "limits.cuh"
#include "rope.cuh"

namespace gemv {

enum Mode { PLAIN = 0, RESIDUAL = 1, QKV = 2, SWIGLU = 3 };

struct Params {
    const __nv_bfloat16* W;   // [N][K]
    const float* X;           // [B][K]
    int N, K, B;
    float* out_f32;           // plain: [B][N]; residual: x [B][N]; qkv: q [B][qDim]
    float* out_act;           // swiglu: [B][N/2]
    // qkv only
    const __nv_bfloat16* bias;  // [N]
    const float* inv_freq;      // [hd/2]
    float rope_scale;           // attention factor multiplying cos and sin (YaRN), 1 otherwise
    __nv_bfloat16* k_cache;     // this layer's pool: [totalBlocks][kvHeads][blockSize][hd]
    __nv_bfloat16* v_cache;
    const int* slots;           // [B] sequence id = row of the block table
    const int* pos;             // [B]
    int qDim, kvDim, hd;
    const int* block_table;     // [maxSequences][max_blocks_per_seq]
    int max_blocks_per_seq, block_size;
    const int* bias_off;        // qkv: [B] limits::BIAS_* bits of this layer's biases to skip, or null
    // *_norm kernels only: X is the f32 residual stream, normed on the fly
    const __nv_bfloat16* norm_w;  // [K]
    const int* row_index;         // [B] or null: activation row b is X row row_index[b]
    float eps;
};

template <int MODE>
static __device__ __forceinline__ void pair_rows(const Params& p, int pair, int& r0, int& r1) {
    if (MODE == QKV) {
        int half = p.hd >> 1;
        int head = pair / half, i = pair - head * half;
        r0 = head * p.hd + i;
        r1 = r0 + half;
    } else if (MODE == SWIGLU) {
        r0 = pair;
        r1 = (p.N >> 1) + pair;
    } else {
        r0 = 2 * pair;
        r1 = 2 * pair + 1;
    }
}

template <int MODE>
static __device__ __forceinline__ void epilogue(const Params& p, int pair, int r0, int r1, int b, float a0, float a1) {
    if (MODE == PLAIN) {
        p.out_f32[(size_t)b * p.N + r0] = a0;
        if (r1 < p.N) p.out_f32[(size_t)b * p.N + r1] = a1;
    } else if (MODE == RESIDUAL) {
        p.out_f32[(size_t)b * p.N + r0] += a0;
        if (r1 < p.N) p.out_f32[(size_t)b * p.N + r1] += a1;
    } else if (MODE == SWIGLU) {
        float g = a0, u = a1;
        float silu = g / (1.f + __expf(-g));
        p.out_act[(size_t)b * (p.N >> 1) + r0] = silu * u;
    } else {  // QKV
        // r0 and r1 lie in the same head, so in the same projection.
        int proj = r0 < p.qDim ? limits::BIAS_Q : r0 < p.qDim + p.kvDim ? limits::BIAS_K : limits::BIAS_V;
        const bool keep = !p.bias_off || !(p.bias_off[b] & proj);
        a0 = qc::rope_bias(a0, p.bias, r0, keep);
        a1 = qc::rope_bias(a1, p.bias, r1, keep);
        int half = p.hd >> 1;
        int i = r0 % p.hd;  // < half by construction
        int pos = p.pos[b];
        if (r0 < p.qDim + p.kvDim) {
            float c, s;
            qc::rope_cos_sin(pos, p.inv_freq[i], p.rope_scale, c, s);
            qc::rope_rotate(a0, a1, c, s);
        }
        if (r0 < p.qDim) {
            p.out_f32[(size_t)b * p.qDim + r0] = a0;
            p.out_f32[(size_t)b * p.qDim + r1] = a1;
        } else {
            bool isK = r0 < p.qDim + p.kvDim;
            int rel = r0 - p.qDim - (isK ? 0 : p.kvDim);
            int kvh = rel / p.hd;
            int kvHeads = p.kvDim / p.hd;
            const int* bt = p.block_table + (size_t)p.slots[b] * p.max_blocks_per_seq;
            size_t base = qc::kv_offset(bt, p.block_size, kvHeads, kvh, pos, p.hd) + i;
            __nv_bfloat16* dst = isK ? p.k_cache : p.v_cache;
            dst[base] = __float2bfloat16(a0);
            dst[base + half] = __float2bfloat16(a1);
        }
    }
}

template <int BT, int MODE, bool NORM, int KS>
static __device__ __forceinline__ void run(const Params& p, bool streamed) {
    constexpr int UNROLL = 4;
    constexpr int STRIDE = 32 * KS;
    qc::pdl_launch_dependents();
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int b0 = blockIdx.y * BT;
    int nb = min(BT, p.B - b0);
    int kv = p.K >> 3;  // 16-byte words per row
    // Activation row b of the tile starts at row(b) (16-byte words of 8 floats = two float4). Only the
    // norm kernels hold a pointer per row (row_index may permute); the others keep one base.
    const float4* xbase = reinterpret_cast<const float4*>(p.X + (size_t)b0 * p.K);
    const float4* xrow[NORM ? BT : 1];
    if constexpr (NORM) {
#pragma unroll
        for (int b = 0; b < BT; b++) {
            int src = b0 + (b < nb ? b : 0);
            if (p.row_index) src = p.row_index[src];
            xrow[b] = reinterpret_cast<const float4*>(p.X + (size_t)src * p.K);
        }
    }
    auto row = [&](int b) -> const float4* {
        if constexpr (NORM) return xrow[b];
        else return xbase + (size_t)b * kv * 2;
    };
    int pairs = (MODE == QKV || MODE == SWIGLU) ? (p.N >> 1) : ((p.N + 1) >> 1);
    // KS warps share a pair: warp `slice` of the group takes every KS-th 32-word stretch of K.
    int group = warp / KS, slice = warp - group * KS;
    int pair = blockIdx.x * ((blockDim.x >> 5) / KS) + group;
    bool active = pair < pairs;
    int r0 = 0, r1 = 0;
    if (active) pair_rows<MODE>(p, pair, r0, r1);
    bool has1 = r1 < p.N;
    const uint4* w0 = reinterpret_cast<const uint4*>(p.W + (size_t)r0 * p.K);
    const uint4* w1 = reinterpret_cast<const uint4*>(p.W + (size_t)(has1 ? r1 : r0) * p.K);
    const int k0 = lane + 32 * slice;
    uint4 wa[UNROLL], wb[UNROLL];
    auto load = [&](int k) {
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            int kk = k + STRIDE * u;
            if (active && kk < kv) {
                wa[u] = __ldcs(w0 + kk);  // weights are streamed once: keep them out of L1/L2's way
                wb[u] = __ldcs(w1 + kk);
            } else {
                wa[u] = wb[u] = make_uint4(0, 0, 0, 0);
            }
        }
    };
    float rstd[BT], ss[BT];
#pragma unroll
    for (int b = 0; b < BT; b++) rstd[b] = 1.f, ss[b] = 0.f;
    // The first group of weight words is in flight before the wait: no earlier kernel writes weights,
    // so under a dependent launch their loads overlap the previous kernel's tail.
    if (active) load(k0);
    qc::pdl_wait();
    if (NORM && !streamed) {
        // The block reduces its rows' sums of squares (from L2) before any weight streams.
        __shared__ float red[8][BT];
        __shared__ float rs[BT];
        int warps = blockDim.x >> 5;
        for (int i = threadIdx.x; i < 2 * kv; i += blockDim.x) {
#pragma unroll
            for (int b = 0; b < BT; b++) {
                if (b < nb) {
                    float4 v = __ldg(row(b) + i);
                    ss[b] = fmaf(v.x, v.x, ss[b]);
                    ss[b] = fmaf(v.y, v.y, ss[b]);
                    ss[b] = fmaf(v.z, v.z, ss[b]);
                    ss[b] = fmaf(v.w, v.w, ss[b]);
                }
            }
        }
#pragma unroll
        for (int b = 0; b < BT; b++) {
            float t = qc::warp_sum(ss[b]);
            if (lane == 0) red[warp][b] = t;
        }
        __syncthreads();
        if (threadIdx.x < BT) {
            float t = 0.f;
            for (int w = 0; w < warps; w++) t += red[w][threadIdx.x];
            rs[threadIdx.x] = rsqrtf(t / (float)p.K + p.eps);
        }
        __syncthreads();
#pragma unroll
        for (int b = 0; b < BT; b++) rstd[b] = rs[b];
    }
    if (KS == 1 && !active) return;  // with KS > 1 every warp reaches the barrier below
    const uint4* nw = reinterpret_cast<const uint4*>(p.norm_w);
    float acc0[BT], acc1[BT];
#pragma unroll
    for (int b = 0; b < BT; b++) acc0[b] = acc1[b] = 0.f;

    // One 16-byte word k of every activation row against the unpacked weights fa, fb; with NORM the
    // activations are first multiplied by the norm weight (x * w, rstd comes after the sum).
    auto step = [&](int kk, const float* fa, const float* fb) {
        float g[8];
        if constexpr (NORM) qc::unpack8(__ldg(nw + kk), g);
#pragma unroll
        for (int b = 0; b < BT; b++) {
            if (b < nb) {
                const float4* xr = row(b) + (size_t)kk * 2;
                float4 xa = __ldg(xr), xb = __ldg(xr + 1);
                if constexpr (NORM) {
                    if (streamed) {
                        ss[b] = fmaf(xa.x, xa.x, ss[b]);
                        ss[b] = fmaf(xa.y, xa.y, ss[b]);
                        ss[b] = fmaf(xa.z, xa.z, ss[b]);
                        ss[b] = fmaf(xa.w, xa.w, ss[b]);
                        ss[b] = fmaf(xb.x, xb.x, ss[b]);
                        ss[b] = fmaf(xb.y, xb.y, ss[b]);
                        ss[b] = fmaf(xb.z, xb.z, ss[b]);
                        ss[b] = fmaf(xb.w, xb.w, ss[b]);
                    }
                    xa = make_float4(xa.x * g[0], xa.y * g[1], xa.z * g[2], xa.w * g[3]);
                    xb = make_float4(xb.x * g[4], xb.y * g[5], xb.z * g[6], xb.w * g[7]);
                }
                acc0[b] += qc::dot8ff(fa, xa, xb);
                acc1[b] += qc::dot8ff(fb, xa, xb);
            }
        }
    };
    // Every group of UNROLL words has its loads issued before any math, the last (partial) group
    // too: a lane's words are still summed in increasing k, so KS = 1 gives the bits of a loop with
    // a one-word-at-a-time tail, without that tail's serial round trips to memory.
    if (active) {
        for (int k = k0; k < kv; k += STRIDE * UNROLL) {
            if (k != k0) load(k);  // the first group was loaded before the wait
#pragma unroll
            for (int u = 0; u < UNROLL; u++) {
                int kk = k + STRIDE * u;
                if (kk < kv) {
                    float fa[8], fb[8];  // unpacked once, reused by every activation row
                    qc::unpack8(wa[u], fa);
                    qc::unpack8(wb[u], fb);
                    step(kk, fa, fb);
                }
            }
        }
    }
    const bool sums = NORM && streamed;
#pragma unroll
    for (int b = 0; b < BT; b++) {
        acc0[b] = qc::warp_sum(acc0[b]);
        acc1[b] = qc::warp_sum(acc1[b]);
        if (sums) ss[b] = qc::warp_sum(ss[b]);
    }
    if constexpr (KS > 1) {
        // The group's slices meet in shared memory; slice 0 adds them in slice order (fixed bits).
        __shared__ float part[8][3 * BT];
        if (lane == 0) {
#pragma unroll
            for (int b = 0; b < BT; b++) {
                part[warp][b] = acc0[b];
                part[warp][BT + b] = acc1[b];
                part[warp][2 * BT + b] = ss[b];
            }
        }
        __syncthreads();
        if (slice != 0 || !active) return;
#pragma unroll
        for (int s = 1; s < KS; s++) {
#pragma unroll
            for (int b = 0; b < BT; b++) {
                acc0[b] += part[warp + s][b];
                acc1[b] += part[warp + s][BT + b];
                if (sums) ss[b] += part[warp + s][2 * BT + b];
            }
        }
    }
    if constexpr (NORM) {
#pragma unroll
        for (int b = 0; b < BT; b++) {
            if (sums) rstd[b] = rsqrtf(ss[b] / (float)p.K + p.eps);
            acc0[b] *= rstd[b];
            acc1[b] *= rstd[b];
        }
    }
    // Every lane now holds every sum; spread the epilogues over the lanes.
#pragma unroll
    for (int b = 0; b < BT; b++) {
        if (lane == (b & 31) && b < nb) epilogue<MODE>(p, pair, r0, r1, b0 + b, acc0[b], acc1[b]);
    }
}

}  // namespace gemv

#define GEMV_KERNEL(NAME, MODE, BT, KS)                                                                        \
    extern "C" __global__ void __launch_bounds__(256) NAME(                                                  \
        const __nv_bfloat16* W, const float* X, int N, int K, int B, float* out_f32,                         \
        float* out_act, const __nv_bfloat16* bias, const float* inv_freq, float rope_scale,        \
        __nv_bfloat16* k_cache, __nv_bfloat16* v_cache, const int* slots, const int* pos, int qDim,         \
        int kvDim, int hd, const int* block_table, int max_blocks_per_seq, int block_size,                   \
        const int* bias_off) {                                                                               \
        gemv::Params p{W, X, N, K, B, out_f32, out_act, bias, inv_freq, rope_scale, k_cache, v_cache, slots, \
                       pos, qDim, kvDim, hd, block_table, max_blocks_per_seq, block_size, bias_off, nullptr, nullptr, \
                       0.f};                                                                                 \
        gemv::run<BT, MODE, false, KS>(p, false);                                                                     \
    }

#define GEMV_NORM_KERNEL(NAME, MODE, BT, KS)                                                                   \
    extern "C" __global__ void __launch_bounds__(256) NAME(                                                  \
        const __nv_bfloat16* W, const float* X, int N, int K, int B, float* out_f32,                         \
        float* out_act, const __nv_bfloat16* bias, const float* inv_freq, float rope_scale,                  \
        __nv_bfloat16* k_cache, __nv_bfloat16* v_cache, const int* slots, const int* pos, int qDim,         \
        int kvDim, int hd, const int* block_table, int max_blocks_per_seq, int block_size,                   \
        const int* bias_off, const __nv_bfloat16* norm_w, const int* row_index, float eps, int streamed) {   \
        gemv::Params p{W, X, N, K, B, out_f32, out_act, bias, inv_freq, rope_scale, k_cache, v_cache, slots, \
                       pos, qDim, kvDim, hd, block_table, max_blocks_per_seq, block_size, bias_off, norm_w,  \
                       row_index, eps};                                                                      \
        gemv::run<BT, MODE, true, KS>(p, streamed != 0);                                                                      \
    }

// KS = 1 for every tile; the K-split variants (_ks2, _ks4) for the GEMV route's small batches (up to 8 rows).
#define GEMV_KS_TILES(PREFIX, MODE, BT)         \
    GEMV_KERNEL(PREFIX##_bt##BT, MODE, BT, 1)    \
    GEMV_KERNEL(PREFIX##_bt##BT##_ks2, MODE, BT, 2) \
    GEMV_KERNEL(PREFIX##_bt##BT##_ks4, MODE, BT, 4)

#define GEMV_ALL_TILES(PREFIX, MODE)       \
    GEMV_KS_TILES(PREFIX, MODE, 1)         \
    GEMV_KS_TILES(PREFIX, MODE, 2)         \
    GEMV_KS_TILES(PREFIX, MODE, 4)         \
    GEMV_KS_TILES(PREFIX, MODE, 8)         \
    GEMV_KERNEL(PREFIX##_bt16, MODE, 16, 1) \
    GEMV_KERNEL(PREFIX##_bt32, MODE, 32, 1)

GEMV_ALL_TILES(gemv_plain, gemv::PLAIN)
GEMV_ALL_TILES(gemv_residual, gemv::RESIDUAL)
GEMV_ALL_TILES(gemv_qkv, gemv::QKV)
GEMV_ALL_TILES(gemv_swiglu, gemv::SWIGLU)

// The RMSNorm-folding variants, for the tiles of the GEMV route's small batches (up to 8 rows).
#define GEMV_NORM_KS_TILES(PREFIX, MODE, BT)                  \
    GEMV_NORM_KERNEL(PREFIX##_norm_bt##BT, MODE, BT, 1)       \
    GEMV_NORM_KERNEL(PREFIX##_norm_bt##BT##_ks2, MODE, BT, 2) \
    GEMV_NORM_KERNEL(PREFIX##_norm_bt##BT##_ks4, MODE, BT, 4)

#define GEMV_NORM_TILES(PREFIX, MODE)        \
    GEMV_NORM_KS_TILES(PREFIX, MODE, 1)      \
    GEMV_NORM_KS_TILES(PREFIX, MODE, 2)      \
    GEMV_NORM_KS_TILES(PREFIX, MODE, 4)      \
    GEMV_NORM_KS_TILES(PREFIX, MODE, 8)

GEMV_NORM_TILES(gemv_plain, gemv::PLAIN)
GEMV_NORM_TILES(gemv_qkv, gemv::QKV)
GEMV_NORM_TILES(gemv_swiglu, gemv::SWIGLU)

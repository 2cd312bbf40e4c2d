// attention_decode_mma.cu: the split-attention partials of attention_decode.cu on tensor cores. A
// KV head's query group is the M side of m16n8k16 MMAs (its G <= 16 heads padded to 16 rows), a
// 64-token tile the N side of the scores and the K side of P.V. A block takes `span` tokens (a
// multiple of 64: one or more tiles) of one row and KV head, and leaves the partial layout of
// attn_partial_hd{64,128}, which attn_combine (given the same span) finishes:
//   part_ml[r][h][split] = (m, l): m = max_t s_t, l = sum_t exp(s_t - m), s_t = q[r][h] . K[t] * scale
//   part_o[r][h][split][d] = sum_t exp(s_t - m) V[t][d]          over the split's tokens t <= pos[r]
// or, when out or out_bf16 is given (the host launches one split per row: span >= every row's
// length), the finished rows out[r][h][d] = part_o / l, exactly what attn_combine makes of a single
// split, so the combine launch and the partials' round trip through memory are skipped.
// Rounding differs from the CUDA-core kernels the way prefill flash attention's does: q and P are
// rounded to bf16 for the MMAs (scores, m and l stay f32), where those kernels multiply f32 q and p by
// the bf16 cache. Why: the CUDA-core kernel spends its time on shared-memory reads and FMAs (a 64-token
// split of a group of 7 is 57K FMAs), which leaves wide decode batches far below the bandwidth their
// KV reads need; here the same split is 32 MMAs a warp. Why spans longer than one tile: a wide batch
// has blocks to spare, and each 64-token block paid for its q conversion, its cross-warp merge and
// its partials (at 256 rows of 1K the partials alone were a ninth of the KV bytes, written once and
// read again by attn_combine).
// Launch: grid (nSplits, nKv, R), block 128 (4 warps), dynamic shared memory none (static 16*HD*2 +
// 2*64*HD*2 bytes + 512). Warp w owns tokens 16w..16w+15 of every tile: it copies those K and V rows
// into shared memory itself (cp.async; a tile lies in one cache block when blockSize is a multiple of
// 64, else rows are resolved one by one), so the tile loop needs no block barrier, and the next
// tile's K rows are in flight during this tile's P.V, its V rows during the next tile's scores. Per
// tile: S = Q K^T (ldmatrix of K), an online softmax over the warp's tiles so far (running max m_w,
// per-lane partial sums), O_w = O_w * exp(m_old - m_w) + P V (ldmatrix.trans of V). The four warps
// then meet in shared memory (over the dead K/V tiles): m = max_w m_w, each warp's O_w and l_w scaled
// by exp(m_w - m) and summed in warp order. With one tile this is the arithmetic of a single-tile
// block exactly (the rescale multiplies zeros by zero). Splits past the row's length return at once
// (graph-captured grids cover the longest row). Every block first waits for the kernel before it
// (qc::pdl_wait), so the host may launch these as dependent launches.
// When the kernel after it may start (its dependent launch, qc::pdl_launch_dependents): at once, or
// with late_trigger once the block's last tile is loading. The kernel after is o_proj's GEMV, whose
// blocks issue their first weight loads before they wait; at batch 1 those are most of o_proj's 26 MB,
// and started at once they queued ahead of this kernel's few tiles: 14.8 us a layer at 129 to 256
// positions in the engine's graph, against 7.4 to 11.3 alone (kernel trace, H100).
// CPU counterpart: Qwen2Forward's attention (qwenchat.engine.cpu).
#include "common.cuh"
#include "limits.cuh"
#include "prefill_mma.cuh"

namespace attn_mma {
using namespace prefill_mma;

constexpr int TILE = limits::ATTN_SPLIT;  // 64 tokens: 4 warps of 16
constexpr int THREADS = 128;
constexpr int ROWS = 16;                  // MMA M: the group's heads, zero-padded
static_assert(limits::ATTN_MAX_GROUP <= ROWS, "every query group fits the MMA's 16 rows");
static_assert(TILE == 64, "four warps of 16 tokens");

// Copies the calling warp's 16 rows (tile rows 16w..16w+15, tokens tileStart + row) of one pool into
// the swizzled 64-row tile; rows >= n are zero-filled (P is 0 there, and 0 * garbage could be NaN).
template <int HD>
static __device__ __forceinline__ void load_warp_rows(uint32_t dst, const __nv_bfloat16* __restrict__ pool,
                                                      const int* __restrict__ bt, int block_size, int nKv, int kvh,
                                                      int tileStart, int n, int warp, int lane) {
    constexpr int CHUNKS = HD / 8;  // 16-byte chunks per row
    const bool dense = block_size % TILE == 0;  // the tile lies inside one cache block
    const size_t base = dense ? qc::kv_offset(bt, block_size, nKv, kvh, tileStart, HD) : 0;
#pragma unroll
    for (int i = 0; i < 16 * CHUNKS / 32; i++) {
        const int id = lane + i * 32;
        const int row = warp * 16 + id / CHUNKS, c = id % CHUNKS;
        const bool valid = row < n;
        const size_t at = !valid ? 0 : dense ? base + (size_t)row * HD : qc::kv_offset(bt, block_size, nKv, kvh, tileStart + row, HD);
        cp_async_16(dst + swizzle<HD * 2>(row, c), pool + at + c * 8, valid);
    }
}

// ONE_TILE: span is TILE, a compile-time single pass, so the running state folds away and o is not
// live during the scores (80 registers instead of 128: six resident blocks a multiprocessor, not four).
template <int HD, bool ONE_TILE>
static __device__ __forceinline__ void partial(const float* __restrict__ q, const __nv_bfloat16* __restrict__ kc,
                                               const __nv_bfloat16* __restrict__ vc, const int* __restrict__ slots,
                                               const int* __restrict__ pos, float* __restrict__ part_o,
                                               float* __restrict__ part_ml, int nH, int nKv, int nSplits, float scale,
                                               const int* __restrict__ block_table, int max_blocks_per_seq,
                                               int block_size, int span, float* __restrict__ out,
                                               __nv_bfloat16* __restrict__ out_bf16, bool late_trigger) {
    constexpr int ROW_BYTES = HD * 2;
    constexpr int CHUNKS = HD / 8;  // 16-byte chunks per row
    __shared__ __align__(128) unsigned char sQb[ROWS * ROW_BYTES];
    __shared__ __align__(128) unsigned char sKV[2 * TILE * ROW_BYTES];  // K tile, V tile; later the warps' O
    __shared__ float wm[4][ROWS], wl[4][ROWS], fl[ROWS];
    // q and this step's keys and values come from the qkv kernel just before (common.cuh, pdl_wait).
    if (!late_trigger) qc::pdl_launch_dependents();
    qc::pdl_wait();
    const int split = blockIdx.x, kvh = blockIdx.y, r = blockIdx.z;
    const int len = pos[r] + 1;
    if (ONE_TILE) span = TILE;
    const int t0 = split * span;
    if (t0 >= len) return;
    const int end = min(t0 + span, len);  // this block's tokens: t0 .. end-1
    const int tiles = ONE_TILE ? 1 : (end - t0 + TILE - 1) / TILE;
    const int G = nH / nKv;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const uint32_t sQ = smem_addr(sQb), sK = smem_addr(sKV), sV = sK + TILE * ROW_BYTES;
    const int* bt = block_table + (size_t)slots[r] * max_blocks_per_seq;

    // Commit groups stay in the order K(0), V(0), K(1), V(1), ... (empty ones after the last tile),
    // so "all but the newest group done" is always the operand about to be read.
    load_warp_rows<HD>(sK, kc, bt, block_size, nKv, kvh, t0, end - t0, warp, lane);
    cp_async_commit();
    load_warp_rows<HD>(sV, vc, bt, block_size, nKv, kvh, t0, end - t0, warp, lane);
    cp_async_commit();
    // The group's q rows in bf16 (rows G..15 zero) while the copies are in flight.
    const float* qrow = q + ((size_t)r * nH + (size_t)kvh * G) * HD;
    for (int id = tid; id < ROWS * CHUNKS; id += THREADS) {
        const int row = id / CHUNKS, c = id % CHUNKS;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (row < G) {
            const float4 a = *reinterpret_cast<const float4*>(qrow + (size_t)row * HD + c * 8);
            const float4 b = *reinterpret_cast<const float4*>(qrow + (size_t)row * HD + c * 8 + 4);
            v = make_uint4(pack_bf16x2(a.x, a.y), pack_bf16x2(a.z, a.w), pack_bf16x2(b.x, b.y), pack_bf16x2(b.z, b.w));
        }
        *reinterpret_cast<uint4*>(sQb + swizzle<ROW_BYTES>(row, c)) = v;
    }
    __syncthreads();

    // Running state of this warp's tokens: m[h] (quad-uniform), l[h] this lane's partial sum; h = 0
    // is head lane/4, h = 1 head lane/4 + 8. o[di][e] is head lane/4 + 8*(e>>1), dim 8di + 2(lane&3) + (e&1).
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    float o[HD / 8][4];
#pragma unroll
    for (int di = 0; di < HD / 8; di++)
#pragma unroll
        for (int e = 0; e < 4; e++) o[di][e] = 0.f;

    for (int j = 0; j < tiles; j++) {
        const int tj = t0 + j * TILE;
        const int n = min(TILE, end - tj);  // valid tokens of this tile
        const bool more = j + 1 < tiles;
        // Late trigger: the next kernel (o_proj's GEMV, launched dependently) may start once every
        // load of this block is in flight. Started earlier, its weight loads queue ahead of these
        // tiles' K and V and stretch a latency-bound attention (see the header).
        if (late_trigger && !more) qc::pdl_launch_dependents();
        cp_async_wait<1>();  // K(j)
        __syncwarp();
        // S = Q K^T over this warp's 16 tokens: s[ni][e] is head lane/4 + 8*(e>>1), token 16w + 8ni + 2(lane&3) + (e&1).
        float s[2][4];
#pragma unroll
        for (int ni = 0; ni < 2; ni++)
#pragma unroll
            for (int e = 0; e < 4; e++) s[ni][e] = 0.f;
#pragma unroll
        for (int kk = 0; kk < HD / 16; kk++) {
            // q's fragments are re-read every tile: held in registers they cost a block of residency.
            uint32_t qa[4], kb[4];
            ldmatrix_x4(qa, sQ + swizzle<ROW_BYTES>(lane & 15, kk * 2 + (lane >> 4)));
            ldmatrix_x4(kb, sK + swizzle<ROW_BYTES>(warp * 16 + ((lane >> 4) << 3) + (lane & 7), kk * 2 + ((lane >> 3) & 1)));
            mma_bf16_16816(s[0], qa, kb[0], kb[1]);
            mma_bf16_16816(s[1], qa, kb[2], kb[3]);
        }
        __syncwarp();  // every lane has read its K rows before they are overwritten
        if (more) load_warp_rows<HD>(sK, kc, bt, block_size, nKv, kvh, tj + TILE, end - tj - TILE, warp, lane);
        cp_async_commit();
        // Scale, mask the tokens past the row, then the online softmax per head row.
#pragma unroll
        for (int h = 0; h < 2; h++) {
            float mx = -INFINITY;
#pragma unroll
            for (int ni = 0; ni < 2; ni++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int t = warp * 16 + ni * 8 + (lane & 3) * 2 + e;
                    float v = t < n ? s[ni][2 * h + e] * scale : -INFINITY;
                    s[ni][2 * h + e] = v;
                    mx = fmaxf(mx, v);
                }
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float newM = fmaxf(m[h], mx);
            // A warp with no token of the row yet has m = -inf: nothing to rescale, and its p are 0, not NaN.
            const float alpha = m[h] == -INFINITY ? 0.f : __expf(m[h] - newM);
            float sum = 0.f;
#pragma unroll
            for (int ni = 0; ni < 2; ni++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const float p = newM == -INFINITY ? 0.f : __expf(s[ni][2 * h + e] - newM);
                    s[ni][2 * h + e] = p;
                    sum += p;
                }
            l[h] = l[h] * alpha + sum;
            m[h] = newM;
#pragma unroll
            for (int di = 0; di < HD / 8; di++) {
                o[di][2 * h] *= alpha;
                o[di][2 * h + 1] *= alpha;
            }
        }
        // O_w += P V: the two 8-token score tiles form one 16-token A fragment.
        uint32_t pa[4];
        pa[0] = pack_bf16x2(s[0][0], s[0][1]);
        pa[1] = pack_bf16x2(s[0][2], s[0][3]);
        pa[2] = pack_bf16x2(s[1][0], s[1][1]);
        pa[3] = pack_bf16x2(s[1][2], s[1][3]);
        cp_async_wait<1>();  // V(j)
        __syncwarp();
#pragma unroll
        for (int dj = 0; dj < HD / 16; dj++) {
            uint32_t vb[4];
            ldmatrix_x4_trans(vb, sV + swizzle<ROW_BYTES>(warp * 16 + (((lane >> 3) & 1) << 3) + (lane & 7), dj * 2 + (lane >> 4)));
            mma_bf16_16816(o[2 * dj], pa, vb[0], vb[1]);
            mma_bf16_16816(o[2 * dj + 1], pa, vb[2], vb[3]);
        }
        __syncwarp();  // every lane has read its V rows before they are overwritten
        if (more) load_warp_rows<HD>(sV, vc, bt, block_size, nKv, kvh, tj + TILE, end - tj - TILE, warp, lane);
        cp_async_commit();
    }
    cp_async_wait<0>();
#pragma unroll
    for (int h = 0; h < 2; h++) {
        l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
        l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
    }
    const int g = lane >> 2;
    if ((lane & 3) == 0) {
        wm[warp][g] = m[0];
        wm[warp][g + 8] = m[1];
        wl[warp][g] = l[0];
        wl[warp][g + 8] = l[1];
    }
    __syncthreads();  // every warp is done with the K/V tiles and has published m_w, l_w
    // The block's M and L per head, for part_ml or the direct output's 1/L.
    float blockM = 0.f, blockL = 0.f;
    if (tid < G) {
        blockM = wm[0][tid];
#pragma unroll
        for (int w = 1; w < 4; w++) blockM = fmaxf(blockM, wm[w][tid]);
#pragma unroll
        for (int w = 0; w < 4; w++) blockL += wm[w][tid] == -INFINITY ? 0.f : wl[w][tid] * __expf(wm[w][tid] - blockM);
        fl[tid] = blockL;
    }
    // Each warp's O_w, scaled by exp(m_w - M), into red[w][head][d] over the dead tiles (heads < G only).
    float* red = reinterpret_cast<float*>(sKV);
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int head = g + 8 * h;
        if (head >= G) continue;
        float M = wm[0][head];
#pragma unroll
        for (int w = 1; w < 4; w++) M = fmaxf(M, wm[w][head]);
        const float f = m[h] == -INFINITY ? 0.f : __expf(m[h] - M);
#pragma unroll
        for (int di = 0; di < HD / 8; di++) {
            const int d = di * 8 + (lane & 3) * 2;
            red[((size_t)warp * ROWS + head) * HD + d] = o[di][2 * h] * f;
            red[((size_t)warp * ROWS + head) * HD + d + 1] = o[di][2 * h + 1] * f;
        }
    }
    __syncthreads();
    const bool direct = out != nullptr || out_bf16 != nullptr;
    for (int i = tid; i < G * HD; i += THREADS) {
        const int head = i / HD, d = i - head * HD;
        float acc = red[head * HD + d];
#pragma unroll
        for (int w = 1; w < 4; w++) acc += red[((size_t)w * ROWS + head) * HD + d];
        const size_t rh = (size_t)r * nH + (size_t)kvh * G + head;
        if (direct) {
            // attn_combine's arithmetic for one split: weight exp(0) = 1, then * (1 / L).
            const float v = acc * (1.f / fl[head]);
            if (out) out[rh * HD + d] = v;
            if (out_bf16) out_bf16[rh * HD + d] = __float2bfloat16(v);
        } else {
            part_o[(rh * nSplits + split) * HD + d] = acc;
        }
    }
    if (!direct && tid < G) {
        const size_t at = (((size_t)r * nH + (size_t)kvh * G + tid) * nSplits + split) * 2;
        part_ml[at] = blockM;
        part_ml[at + 1] = blockL;
    }
}
}  // namespace attn_mma

#define ATTN_PARTIAL_MMA(NAME, HD, ONE_TILE)                                                                  \
    extern "C" __global__ void __launch_bounds__(attn_mma::THREADS) NAME(                                    \
        const float* __restrict__ q, const __nv_bfloat16* __restrict__ kc, const __nv_bfloat16* __restrict__ vc, \
        const int* __restrict__ slots, const int* __restrict__ pos, float* __restrict__ part_o,              \
        float* __restrict__ part_ml, int nH, int nKv, int nSplits, float scale, const int* __restrict__ block_table, \
        int max_blocks_per_seq, int block_size, int span, float* __restrict__ out, __nv_bfloat16* __restrict__ out_bf16, \
        int late_trigger) {                                                                                   \
        attn_mma::partial<HD, ONE_TILE>(q, kc, vc, slots, pos, part_o, part_ml, nH, nKv, nSplits, scale, block_table,   \
                              max_blocks_per_seq, block_size, span, out, out_bf16, late_trigger != 0);        \
    }

ATTN_PARTIAL_MMA(attn_partial_mma_hd64, 64, true)
ATTN_PARTIAL_MMA(attn_partial_mma_hd128, 128, true)
ATTN_PARTIAL_MMA(attn_partial_mma_span_hd64, 64, false)
ATTN_PARTIAL_MMA(attn_partial_mma_span_hd128, 128, false)

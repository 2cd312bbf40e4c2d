// prefill_attention_sm90.cu: Hopper (sm_90a) warpgroup-MMA version of prefill_attention.cu's causal
// flash attention, same parameters, same results bit for bit on the same inputs.
//
// What it computes: exactly prefill_attention.cu's kernels (its head comment gives the formula, the
// paged K/V layout, the strides and the CPU counterpart, Qwen2Forward#attention): for new token i at
// position past + i and query head h, O[i][h] = softmax_j(Q[i][h] . K[kvh][j] * scale) . V[kvh][j]
// over keys j <= past + i, kvh = h / (qHeads / kvHeads); f32 scores and online softmax in the log2
// domain, P rounded to bf16 for P.V, bf16 output.
//
// Same bits as prefill_attention_causal_hd128: each row sees the same 64-key tiles in the same
// order with the same mask test, exp2 scale folding and bf16 rounding of P; S accumulates the 8
// k16 steps of the head dim in order and O the 4 k16 steps of a tile in order, as the m16n8k16
// MMAs do. wgmma's accumulator holds each warp's 16 rows in the m16n8 layout (row lane/4 and +8,
// columns 8j + 2*(lane%4) + {0,1}), so the softmax code is the mma.sync kernels' with the same
// per-thread values, and P's registers are the A fragment of the P.V wgmma as they are of the
// m16n8k16 MMA. The GPU test PrefillAttentionTest holds it to ROWS16's outputs bit for bit.
//
// Launch layout: prefill_attention_causal_hd128_wgmma and _wgmma_pp (the two computing warpgroups take
//   turns to issue their MMAs: PINGPONG below), block = 384 threads (3 warpgroups), 128 query
//   rows per block, grid = (qHeads, ceil(T/128), 1) with headsFastest = 1, else (ceil(T/128), qHeads, 1),
//   query blocks walked from the last (longest) as in prefill_attention.cu. Warpgroup 0 only loads:
//   the block's Q tile once, then K and V 64 keys at a time into STAGES ring stages (cp.async
//   completing on mbarriers; whole tiles of a pool whose block size is a multiple of 64 from
//   addresses worked out once a block, the rest through the block table a row). Warpgroups 1 and 2
//   each own 64 query rows and compute S = Q.K^T with wgmma.m64n64k16 (Q and K from shared memory)
//   and O += P.V with wgmma.m64n128k16 (P from registers, V from shared memory read transposed),
//   issuing the next tile's S before this tile's P.V so that the softmax overlaps the tensor cores'
//   work. Dynamic shared memory = SHARED_BYTES
//   (Q 32 KB + STAGES x (K 16 KB + V 16 KB) + barriers + 1 KB for 1024-byte alignment); set
//   CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES before launching.
//   Tiles hold a 128-element head row as two 64-element halves, each [rows][128 bytes] in the
//   128-byte swizzle, the layout the wgmma descriptors read (wgmma.cuh).
// Parameters (in order): as prefill_attention.cu: Q, qTokenStride, qHeadStride, K, V, blockTable,
//   blockSize, O, oTokenStride, oHeadStride, T, past, qHeads, kvHeads, scale, headsFastest.
//   Java launcher: PrefillAttention#causal (its tile WGMMA, compute capability 9.0 only).
// Only real on sm_90a machine code; built for any other target the kernel traps.
#include "common.cuh"
#include "prefill_causal_block.cuh"
#include "prefill_mma.cuh"
#include "wgmma.cuh"

namespace prefill_attn_sm90 {

using namespace prefill_mma;

constexpr int HD = 128;
constexpr int BQ = 128;                        // query rows per block, 64 per consumer warpgroup
constexpr int BKV = 64;                        // keys per tile
constexpr int STAGES = 4;
constexpr int HALF_ROW_BYTES = 128;            // 64 bf16 of a head row
constexpr int Q_HALF = BQ * HALF_ROW_BYTES;    // 16 KB: one 64-element half of the Q tile
constexpr int KV_HALF = BKV * HALF_ROW_BYTES;  // 8 KB: one half of a K or V tile
constexpr int STAGE_BYTES = 4 * KV_HALF;       // K then V, two halves each
constexpr int SHARED_BYTES = 1024 + 2 * Q_HALF + STAGES * STAGE_BYTES + 256;
static_assert(SHARED_BYTES <= 227 * 1024, "prefill attention sm90 tiles exceed the shared memory limit");
constexpr float LOG2E = 1.4426950408889634f;

// Copies rows [row0, row0+ROWS) of a [rows][128] strided bf16 matrix into two 64-element halves
// (half h at dst + h * ROWS * 128); rows >= limit are zero-filled. 128 producer threads.
template <int ROWS>
static __device__ __forceinline__ void load_q(uint32_t dst, const __nv_bfloat16* base, size_t rowStride, int row0,
                                              int limit, int t) {
#pragma unroll
    for (int i = 0; i < (ROWS * 16) / 128; ++i) {
        const int id = t + i * 128;
        const int r = id >> 4;
        const int c = id & 15;
        const int gr = row0 + r;
        const bool valid = gr < limit;
        cp_async_16(dst + (c >> 3) * (ROWS * HALF_ROW_BYTES) + swizzle<HALF_ROW_BYTES>(r, c & 7),
                    base + (size_t)(valid ? gr : 0) * rowStride + c * 8, valid);
    }
}

// Keys [key0, key0+64) of KV head kvh from a paged pool into two halves; keys >= limit zero-filled.
// As prefill_attention.cu's load_kv_tile: one table lookup a tile when blockSize is a multiple of 64.
static __device__ __forceinline__ void load_kv(uint32_t dst, const __nv_bfloat16* pool, const int* blockTable,
                                               int blockSize, int kvHeads, int kvh, int key0, int limit, int t) {
    const bool dense = blockSize % BKV == 0;
    const __nv_bfloat16* base = dense ? pool + qc::kv_offset(blockTable, blockSize, kvHeads, kvh, key0, HD) : pool;
#pragma unroll
    for (int i = 0; i < (BKV * 16) / 128; ++i) {
        const int id = t + i * 128;
        const int r = id >> 4;
        const int c = id & 15;
        const int gr = key0 + r;
        const bool valid = gr < limit;
        const __nv_bfloat16* src;
        if (dense) {
            src = base + (valid ? r * HD + c * 8 : 0);
        } else {
            src = pool + (valid ? qc::kv_offset(blockTable, blockSize, kvHeads, kvh, gr, HD) : 0) + c * 8;
        }
        cp_async_16(dst + (c >> 3) * KV_HALF + swizzle<HALF_ROW_BYTES>(r, c & 7), src, valid);
    }
}

// Where one loader thread's copies of a whole 64-key tile go and come from, worked out once a block:
// thread t copies 16-byte chunk t % 16 of rows t / 16 + 8i (i = 0..7), so its shared-memory targets
// are dst + 1024 i (the swizzle depends on row % 8 only) and its sources src + 8i head rows.
struct TileCopy {
    uint32_t dst;  // byte offset in a K or V tile
    int src;       // element offset in a tile of the pool
};

static __device__ __forceinline__ TileCopy tile_copy(int t) {
    const int r = t >> 4, c = t & 15;
    return TileCopy{(c >> 3) * KV_HALF + swizzle<HALF_ROW_BYTES>(r, c & 7), r * HD + c * 8};
}

// A whole tile (all 64 keys below the cache fill) of a dense pool, whose 64 keys are 64 consecutive
// head rows from `tile`: no table lookup, division or bounds test a copy, as load_kv makes.
static __device__ __forceinline__ void load_kv_whole(uint32_t dst, const __nv_bfloat16* tile, TileCopy tc) {
#pragma unroll
    for (int i = 0; i < BKV / 8; ++i) cp_async_16(dst + tc.dst + i * 8 * HALF_ROW_BYTES, tile + tc.src + i * 8 * HD, true);
}

#ifdef QC_WGMMA_ENABLED
// Issues S = Q K^T for a consumer warpgroup's 64 rows x 64 keys over the head dim in 8 k16 steps (one
// commit group); tQ is the warpgroup's rows of the Q tile, tK the stage's K tile.
static __device__ __forceinline__ void issue_scores(float (&sc)[BKV / 2], uint32_t tQ, uint32_t tK) {
    using namespace sm90;
#pragma unroll
    for (int i = 0; i < BKV / 2; ++i) sc[i] = 0.f;
    fence_operands(sc);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < HD / 16; ++kk) {
        const uint32_t off = (kk & 3) * 32;
        wgmma_m64n64k16(sc, smem_desc(tQ + (kk >> 2) * Q_HALF + off), smem_desc(tK + (kk >> 2) * KV_HALF + off));
    }
    wgmma_commit();
}

// Issues O += P V (one commit group). V's tile rows run along k (keys) and its 64-element halves along
// n (head dim): an MN-major operand whose second half lies KV_HALF bytes on; k16 step kk starts 16
// rows (2048 bytes) on. P's registers and O must stay untouched until the group has completed.
static __device__ __forceinline__ void issue_pv(float (&o)[HD / 2], const uint32_t (&pa)[BKV / 16][4], uint32_t tV) {
    using namespace sm90;
    fence_operands(o);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < BKV / 16; ++kk)
        wgmma_m64n128k16_rs_tb(o, pa[kk], smem_desc(tV + kk * 16 * HALF_ROW_BYTES, KV_HALF));
    wgmma_commit();
}

// The causal mask, the online softmax and P of one 64-key tile starting at key0, as prefill_attention.cu
// does them for the thread's two rows (positions rowPos0 and rowPos0 + 8): updates rowMax and rowSum,
// returns the factor O must be scaled by before this tile's P V, and P packed as the A fragments
// of the P V steps (the accumulators of key chunks 2kk and 2kk+1 are step kk's).
static __device__ __forceinline__ void softmax_tile(float (&sc)[BKV / 2], float (&rowMax)[2], float (&rowSum)[2],
                                                    float (&alpha)[2], uint32_t (&pa)[BKV / 16][4], int key0, int wgPos0,
                                                    int rowPos0, int fragCol, float scaleLog2) {
    // Only tiles whose last key can lie beyond the warpgroup's first row need the mask.
    if (key0 + BKV - 1 > wgPos0) {
#pragma unroll
        for (int ni = 0; ni < BKV / 8; ++ni)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int key = key0 + ni * 8 + fragCol + (e & 1);
                const int pos = rowPos0 + (e >> 1) * 8;
                if (key > pos) sc[4 * ni + e] = -INFINITY;
            }
    }
    // Log2 domain; tile 0 holds key 0, which every row may see, so rowMax is finite from the first tile on.
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float mx = -INFINITY;
#pragma unroll
        for (int ni = 0; ni < BKV / 8; ++ni) mx = fmaxf(mx, fmaxf(sc[4 * ni + 2 * h], sc[4 * ni + 2 * h + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float newMax = fmaxf(rowMax[h], mx * scaleLog2);
        alpha[h] = exp2f(rowMax[h] - newMax);
        rowMax[h] = newMax;
        float sum = 0.f;
#pragma unroll
        for (int ni = 0; ni < BKV / 8; ++ni)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const float p = exp2f(sc[4 * ni + 2 * h + e] * scaleLog2 - newMax);
                sc[4 * ni + 2 * h + e] = p;
                sum += p;
            }
        rowSum[h] = rowSum[h] * alpha[h] + sum;
    }
#pragma unroll
    for (int kk = 0; kk < BKV / 16; ++kk) {
        pa[kk][0] = pack_bf16x2(sc[8 * kk + 0], sc[8 * kk + 1]);
        pa[kk][1] = pack_bf16x2(sc[8 * kk + 2], sc[8 * kk + 3]);
        pa[kk][2] = pack_bf16x2(sc[8 * kk + 4], sc[8 * kk + 5]);
        pa[kk][3] = pack_bf16x2(sc[8 * kk + 6], sc[8 * kk + 7]);
    }
}

static __device__ __forceinline__ void rescale(float (&o)[HD / 2], const float (&alpha)[2]) {
#pragma unroll
    for (int di = 0; di < HD / 8; ++di) {
        o[4 * di] *= alpha[0];
        o[4 * di + 1] *= alpha[0];
        o[4 * di + 2] *= alpha[1];
        o[4 * di + 3] *= alpha[1];
    }
}
#endif  // QC_WGMMA_ENABLED

// PINGPONG: the two computing warpgroups take turns to issue their MMAs (named barriers 1 and 2, 256
// threads: a warpgroup waits for its turn before issuing and hands the turn over once it has issued),
// so one's softmax runs while the other's MMAs keep the tensor cores busy, instead of both computing
// softmax at once and leaving them idle. Only the issue order between the warpgroups changes: each
// row's arithmetic, and so every output bit, is the same.
static __device__ __forceinline__ void turn_wait(int cw) {
    asm volatile("bar.sync %0, 256;\n" ::"r"(1 + cw) : "memory");
}

static __device__ __forceinline__ void turn_pass(int cw) {
    asm volatile("bar.arrive %0, 256;\n" ::"r"(2 - cw) : "memory");
}

// Each warpgroup issues the next tile's S = Q K^T before this tile's P V and computes the next
// softmax while P V runs, so its own softmax work overlaps its tensor-core work. Every row still sees
// the operations of prefill_attention.cu in the same order: O is scaled for a tile after the previous
// tile's P V has completed and before its own.
template <bool PINGPONG>
static __device__ __forceinline__ void attention_block(
    const __nv_bfloat16* __restrict__ Q, int qTokenStride, int qHeadStride, const __nv_bfloat16* __restrict__ K,
    const __nv_bfloat16* __restrict__ V, const int* __restrict__ blockTable, int blockSize, __nv_bfloat16* __restrict__ O,
    int oTokenStride, int oHeadStride, int T, int past, int qHeads, int kvHeads, float scale, int headsFastest) {
#ifdef QC_WGMMA_ENABLED
    using namespace sm90;
    extern __shared__ __align__(1024) unsigned char smem[];
    const uint32_t sQ = (smem_addr(smem) + 1023u) & ~1023u;
    const uint32_t sStages = sQ + 2 * Q_HALF;
    const uint32_t qFull = sStages + STAGES * STAGE_BYTES;  // 1 barrier, then STAGES full and STAGES empty
    const uint32_t full = qFull + 8;
    const uint32_t empty = full + 8 * STAGES;

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int wg = warp >> 2;
    const prefill_causal::Block blk = prefill_causal::block<BQ, BKV>(T, past, qHeads, kvHeads, headsFastest);
    const int head = blk.head, kvHead = blk.kvHead, q0 = blk.q0, kvLen = blk.kvLen, kvBlocks = blk.kvBlocks;

    if (tid == 0) {
        mbar_init(qFull, 128);
        for (int s = 0; s < STAGES; ++s) {
            mbar_init(full + 8 * s, 128);
            mbar_init(empty + 8 * s, 256);
        }
    }
    __syncthreads();

    if (wg == 0) {
        load_q<BQ>(sQ, Q + (size_t)head * qHeadStride, qTokenStride, q0, T, tid);
        mbar_arrive_cp_async(qFull);
        // Pools whose block size is a multiple of 64 (dense): tile kb is tile `within` of the pool
        // block in table entry `entry`, walked without a division, and the next tile's entry is read
        // before the wait for its stage, off the copies' path. The loader shares its schedulers with the
        // computing warpgroups: with a lookup, a division and a bounds test a copy (load_kv), its
        // instructions were 29% of the kernel's at 8K tokens.
        const bool dense = blockSize % BKV == 0;
        const int tilesPerBlock = blockSize / BKV;
        const size_t blockElems = (size_t)kvHeads * blockSize * HD;  // one pool block: [kvHeads][blockSize][HD]
        const size_t headElems = (size_t)kvHead * blockSize * HD;
        const TileCopy tc = tile_copy(tid);
        int entry = 0, within = 0;
        int poolBlock = dense ? __ldg(blockTable) : 0;
        for (int kb = 0; kb < kvBlocks; ++kb) {
            const int s = kb % STAGES;
            const size_t tileElems = (size_t)poolBlock * blockElems + headElems + (size_t)within * BKV * HD;
            if (dense && ++within == tilesPerBlock) {
                within = 0;
                if (kb + 1 < kvBlocks) poolBlock = __ldg(blockTable + ++entry);
            }
            if (kb >= STAGES) mbar_wait(empty + 8 * s, ((kb / STAGES) - 1) & 1);
            const uint32_t stage = sStages + s * STAGE_BYTES;
            if (dense && (kb + 1) * BKV <= kvLen) {
                load_kv_whole(stage, K + tileElems, tc);
                load_kv_whole(stage + 2 * KV_HALF, V + tileElems, tc);
            } else {
                load_kv(stage, K, blockTable, blockSize, kvHeads, kvHead, kb * BKV, kvLen, tid);
                load_kv(stage + 2 * KV_HALF, V, blockTable, blockSize, kvHeads, kvHead, kb * BKV, kvLen, tid);
            }
            mbar_arrive_cp_async(full + 8 * s);
        }
        return;
    }

    const int cw = wg - 1;                          // consumer: rows [64cw, 64cw+64) of the block
    const int warpRow = cw * 64 + (warp & 3) * 16;  // this warp's first row in the block
    const int fragRow = lane >> 2;
    const int fragCol = (lane & 3) * 2;
    const int rowPos0 = past + q0 + warpRow + fragRow;  // absolute position of the thread's row (h = 0; h = 1 is +8)
    const int wgPos0 = past + q0 + cw * 64;             // first row of the warpgroup
    const float scaleLog2 = scale * LOG2E;
    const uint32_t tQ = sQ + cw * (64 * HALF_ROW_BYTES);

    float o[HD / 2];  // [16 column chunks of 8][4]: chunk j at o[4j .. 4j+3]
#pragma unroll
    for (int i = 0; i < HD / 2; ++i) o[i] = 0.f;
    float rowMax[2] = {-INFINITY, -INFINITY};
    float rowSum[2] = {0.f, 0.f};  // per-thread partial sums, reduced across the quad at the end
    float sc[BKV / 2];             // [8 key chunks of 8][4]
    uint32_t pa[BKV / 16][4];
    float alpha[2];

    // A warpgroup issues MMAs at kvBlocks + 1 points (the first S, one per step, the last P V), each
    // between turn_wait and turn_pass under PINGPONG. Warpgroup 0 goes first: warpgroup 1 hands it the
    // first turn, and skips the hand-over after its own last issue, which no one waits for.
    int issues = kvBlocks + 1;
    auto begin_issue = [&]() {
        if (PINGPONG) turn_wait(cw);
    };
    auto end_issue = [&]() {
        if (PINGPONG && !(cw == 1 && --issues == 0)) turn_pass(cw);
    };
    if (PINGPONG && cw == 1) turn_pass(cw);
    mbar_wait(qFull, 0);
    mbar_wait(full, 0);
    fence_proxy_async();
    begin_issue();
    issue_scores(sc, tQ, sStages);
    end_issue();
    wgmma_wait<0>();
    fence_operands(sc);
    softmax_tile(sc, rowMax, rowSum, alpha, pa, 0, wgPos0, rowPos0, fragCol, scaleLog2);
    rescale(o, alpha);
    // P alternates between two register sets, so the next tile's P is never written into
    // registers the running P V reads (ptxas would serialize the wgmmas otherwise).
    uint32_t pb[BKV / 16][4];
    // Tile kb with a next one: its S is issued before this tile's P V and its softmax runs while P V does.
    auto step = [&](int kb, const uint32_t(&cur)[BKV / 16][4], uint32_t(&next)[BKV / 16][4]) {
        const int s = kb % STAGES;
        const int n = (kb + 1) % STAGES;
        mbar_wait(full + 8 * n, ((kb + 1) / STAGES) & 1);
        fence_proxy_async();
        begin_issue();
        issue_scores(sc, tQ, sStages + n * STAGE_BYTES);
        issue_pv(o, cur, sStages + s * STAGE_BYTES + 2 * KV_HALF);
        end_issue();
        wgmma_wait<1>();  // the next S (committed first) has completed; this tile's P V may still run
        fence_operands(sc);
        softmax_tile(sc, rowMax, rowSum, alpha, next, (kb + 1) * BKV, wgPos0, rowPos0, fragCol, scaleLog2);
        wgmma_wait<0>();
        fence_operands(o);
        mbar_arrive(empty + 8 * s);
        rescale(o, alpha);
    };
    // The last tile: its P V alone.
    auto last = [&](int kb, const uint32_t(&cur)[BKV / 16][4]) {
        const int s = kb % STAGES;
        begin_issue();
        issue_pv(o, cur, sStages + s * STAGE_BYTES + 2 * KV_HALF);
        end_issue();
        wgmma_wait<0>();
        fence_operands(o);
        mbar_arrive(empty + 8 * s);
    };
    for (int kb = 0;; kb += 2) {
        if (kb + 1 >= kvBlocks) {
            last(kb, pa);
            break;
        }
        step(kb, pa, pb);
        if (kb + 2 >= kvBlocks) {
            last(kb + 1, pb);
            break;
        }
        step(kb + 1, pb, pa);
    }

#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float sum = rowSum[h];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        const float inv = 1.f / sum;
        const int row = q0 + warpRow + fragRow + h * 8;
        if (row >= T) continue;
        __nv_bfloat16* out = O + (size_t)row * oTokenStride + (size_t)head * oHeadStride + fragCol;
#pragma unroll
        for (int di = 0; di < HD / 8; ++di)
            *reinterpret_cast<__nv_bfloat162*>(out + di * 8) =
                __floats2bfloat162_rn(o[4 * di + 2 * h] * inv, o[4 * di + 2 * h + 1] * inv);
    }
#else
    __trap();  // no wgmma in this build target; see the head comment
#endif
}

}  // namespace prefill_attn_sm90

#define PREFILL_ATTN_SM90_PARAMS                                                                                  \
    const __nv_bfloat16 *__restrict__ Q, int qTokenStride, int qHeadStride, const __nv_bfloat16 *__restrict__ K, \
        const __nv_bfloat16 *__restrict__ V, const int *__restrict__ blockTable, int blockSize,                 \
        __nv_bfloat16 *__restrict__ O, int oTokenStride, int oHeadStride, int T, int past, int qHeads, int kvHeads, \
        float scale, int headsFastest
#define PREFILL_ATTN_SM90_ARGS \
    Q, qTokenStride, qHeadStride, K, V, blockTable, blockSize, O, oTokenStride, oHeadStride, T, past, qHeads, kvHeads, scale, \
        headsFastest

extern "C" __global__ void __launch_bounds__(384, 1) prefill_attention_causal_hd128_wgmma(PREFILL_ATTN_SM90_PARAMS) {
    prefill_attn_sm90::attention_block<false>(PREFILL_ATTN_SM90_ARGS);
}

extern "C" __global__ void __launch_bounds__(384, 1) prefill_attention_causal_hd128_wgmma_pp(PREFILL_ATTN_SM90_PARAMS) {
    prefill_attn_sm90::attention_block<true>(PREFILL_ATTN_SM90_ARGS);
}

#undef PREFILL_ATTN_SM90_PARAMS
#undef PREFILL_ATTN_SM90_ARGS

// prefill_attention.cu: causal flash attention for prefill (head_dim 128, grouped-query heads).
//
// What it computes, for every new token i in [0, T) and query head h:
//   O[i][h] = softmax_j( Q[i][h] . K[kvh][j] * scale ) . V[kvh][j]  over keys j <= past + i
//   with kvh = h / (qHeads / kvHeads); past = tokens already in the cache before this prefill, so
//   query i sits at absolute position past + i. The new tokens' K/V (after RoPE on K) must already be
//   written to the cache at positions past .. past+T-1 before the launch. Scores and the softmax are
//   f32 (online softmax, exp2 with log2(e) folded into the scale); P is rounded to bf16 for the P.V
//   tensor-core product; output bf16. CPU counterpart: Qwen2Forward#attention in
//   qwenchat.engine.cpu (softmax(q.k / sqrt(headDim)) . v over the sequence's positions 0..pos, per
//   query head, KV head h / group), which keeps q, k, v and the output in f32.
//
// Memory layouts (all strides in elements, bf16, 16-byte aligned rows):
//   Q: element (i, h, d) at Q[i*qTokenStride + h*qHeadStride + d]   e.g. [T][qHeads][128]: 3584, 128
//      (Q can be a column slice of the fused qkv output: qTokenStride = 4608 for Qwen2.5-7B)
//   K, V: this layer's paged pools [totalBlocks][kvHeads][blockSize][128]; the sequence's keys are
//      found through blockTable (its row of the device block table, int32 [maxBlocksPerSeq]):
//      element (kvh, j, d) at K[((blockTable[j/blockSize]*kvHeads + kvh)*blockSize + j%blockSize)*128 + d]
//      (qc::kv_offset). A contiguous [kvHeads][maxT][128] cache is the one-block case: blockTable
//      = {0}, blockSize = maxT. Any blockSize >= 1 works: each 64-key tile resolves its rows one by one.
//   O: element (i, h, d) at O[i*oTokenStride + h*oHeadStride + d]   e.g. [T][qHeads*128]: 3584, 128
//   All strides must be multiples of 8 (16-byte chunks); pointers 16-byte aligned.
//
// Launch layout: three kernels with identical parameters and results, differing in block shape:
//   prefill_attention_causal_hd128:     block = 128 threads (4 warps), 64 query rows per block,
//       grid = (qHeads, ceil(T/64), 1) with headsFastest = 1, else (ceil(T/64), qHeads, 1); dynamic
//       shared memory = 81920 bytes (Q tile 16 KB + double-buffered K and V tiles 2 x 2 x 16 KB)
//   prefill_attention_causal_hd128_w8:  block = 256 threads (8 warps), 128 query rows per block,
//       grid as above with ceil(T/128), dynamic shared memory = 98304 bytes (Q tile 32 KB + 64 KB)
//   prefill_attention_causal_hd128_m32: block = 128 threads (4 warps), 128 query rows per block,
//       grid as above with ceil(T/128), dynamic shared memory = 98304 bytes (Q tile 32 KB + 64 KB)
//   Keys are consumed 64 at a time. In the first two each warp owns 16 query rows and reads the
//   whole K and V tile from shared memory for them, which bounds them by shared-memory reads. In
//   _m32 each warp owns 32 rows, two 16-row MMA tiles that share every K and V fragment it reads:
//   about 5/8 of the shared-memory reads per FLOP (not 1/2: with o and S for 32 rows in registers
//   none are left to keep the Q fragments, which it reads again for every tile). On an H100
//   (28 query and 4 KV heads, past 0) _m32 took 1.43 ms against hd128's 2.03 at 8K tokens and 0.108
//   against 0.148 ms at 2K, but 0.051 against 0.043 ms at 1K: 128-row blocks make half as many
//   blocks, too few to keep every SM busy to the end of a short launch.
//   Query blocks are walked in reverse so the longest (last) ones start first. headsFastest puts
//   the heads on grid.x, which the block scheduler walks first: all heads' longest blocks, then all
//   heads' next ones, so the launch ends on short blocks (with the heads on grid.y, the last head's
//   longest blocks start near the end and run alone). All need
//   CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES set to their shared size before launching.
// Parameters (in order): Q, qTokenStride, qHeadStride, K, V, blockTable, blockSize,
//   O, oTokenStride, oHeadStride, T, past, qHeads, kvHeads, scale (float, 1/sqrt(128)), headsFastest.
//   Java launcher: PrefillAttention#causal, which picks hd128 or _m32 by the chunk's length.
//   All ints 32-bit. Requires T >= 1, past >= 0, qHeads % kvHeads == 0.
#include "common.cuh"
#include "prefill_causal_block.cuh"
#include "prefill_mma.cuh"

namespace prefill_attn {

using namespace prefill_mma;

constexpr int HD = 128;                // head dim
constexpr int BKV = 64;                // keys per step
constexpr int ROW_BYTES = HD * 2;      // 256 bytes, 16 chunks
constexpr int KV_TILE_BYTES = BKV * ROW_BYTES;  // 16 KB
constexpr float LOG2E = 1.4426950408889634f;

// Copies rows [row0, row0+ROWS) of a [rows][128] strided matrix into a swizzled tile; rows >= limit
// are zero-filled.
template <int ROWS, int THREADS>
static __device__ __forceinline__ void load_tile(uint32_t dst, const __nv_bfloat16* base, size_t rowStride,
                                                 int row0, int limit, int tid) {
#pragma unroll
    for (int i = 0; i < (ROWS * 16) / THREADS; ++i) {
        const int id = tid + i * THREADS;
        const int r = id >> 4;
        const int c = id & 15;
        const int gr = row0 + r;
        const bool valid = gr < limit;
        const __nv_bfloat16* src = base + (size_t)(valid ? gr : 0) * rowStride + c * 8;
        cp_async_16(dst + swizzle<ROW_BYTES>(r, c), src, valid);
    }
}

// Copies keys [key0, key0+BKV) of KV head kvh from a paged pool into a swizzled tile; keys >= limit
// are zero-filled. When blockSize is a multiple of BKV (the default 64 is), a tile lies inside one
// block and its rows are one dense run: one table lookup per tile, as cheap as the contiguous cache.
// Other block sizes resolve rows one by one, so a tile may straddle blocks of any size; that path
// pays an integer division per 16-byte chunk, which cost about a fifth of the 8K prefill's time.
template <int THREADS>
static __device__ __forceinline__ void load_kv_tile(uint32_t dst, const __nv_bfloat16* pool, const int* blockTable,
                                                    int blockSize, int kvHeads, int kvh, int key0, int limit,
                                                    int tid) {
    if (blockSize % BKV == 0) {
        const __nv_bfloat16* base = pool + qc::kv_offset(blockTable, blockSize, kvHeads, kvh, key0, HD);
#pragma unroll
        for (int i = 0; i < (BKV * 16) / THREADS; ++i) {
            const int id = tid + i * THREADS;
            const int r = id >> 4;
            const int c = id & 15;
            const bool valid = key0 + r < limit;
            cp_async_16(dst + swizzle<ROW_BYTES>(r, c), base + (valid ? r * HD + c * 8 : 0), valid);
        }
        return;
    }
#pragma unroll
    for (int i = 0; i < (BKV * 16) / THREADS; ++i) {
        const int id = tid + i * THREADS;
        const int r = id >> 4;
        const int c = id & 15;
        const int gr = key0 + r;
        const bool valid = gr < limit;
        const __nv_bfloat16* src = pool + (valid ? qc::kv_offset(blockTable, blockSize, kvHeads, kvh, gr, HD) : 0) + c * 8;
        cp_async_16(dst + swizzle<ROW_BYTES>(r, c), src, valid);
    }
}

template <int WARPS>
static __device__ __forceinline__ void attention_block(
    const __nv_bfloat16* __restrict__ Q, int qTokenStride, int qHeadStride, const __nv_bfloat16* __restrict__ K,
    const __nv_bfloat16* __restrict__ V, const int* __restrict__ blockTable, int blockSize, __nv_bfloat16* __restrict__ O,
    int oTokenStride, int oHeadStride, int T, int past, int qHeads, int kvHeads, float scale, int headsFastest) {
    constexpr int BQ = 16 * WARPS;  // query rows per block, 16 per warp
    constexpr int THREADS = 32 * WARPS;
    extern __shared__ __align__(128) unsigned char smem[];
    const uint32_t sQ = smem_addr(smem);
    const uint32_t sK = sQ + BQ * ROW_BYTES;        // 2 buffers
    const uint32_t sV = sK + 2 * KV_TILE_BYTES;     // 2 buffers

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const prefill_causal::Block blk = prefill_causal::block<BQ, BKV>(T, past, qHeads, kvHeads, headsFastest);
    const int head = blk.head, kvHead = blk.kvHead, q0 = blk.q0, kvLen = blk.kvLen, kvBlocks = blk.kvBlocks;

    const __nv_bfloat16* qBase = Q + (size_t)head * qHeadStride;

    load_tile<BQ, THREADS>(sQ, qBase, qTokenStride, q0, T, tid);
    load_kv_tile<THREADS>(sK, K, blockTable, blockSize, kvHeads, kvHead, 0, kvLen, tid);
    load_kv_tile<THREADS>(sV, V, blockTable, blockSize, kvHeads, kvHead, 0, kvLen, tid);
    cp_async_commit();

    // Rows this thread owns in the accumulator fragments: fragRow and fragRow + 8 of the warp's 16.
    const int fragRow = lane >> 2;
    const int fragCol = (lane & 3) * 2;
    const int qPos0 = past + q0 + warp * 16 + fragRow;  // absolute position of row h=0; h=1 is +8
    const float scaleLog2 = scale * LOG2E;

    uint32_t qf[HD / 16][4];
    float o[HD / 8][4];
#pragma unroll
    for (int i = 0; i < HD / 8; ++i)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[i][e] = 0.f;
    float rowMax[2] = {-INFINITY, -INFINITY};
    float rowSum[2] = {0.f, 0.f};  // per-thread partial sums, reduced across the quad at the end

    for (int kb = 0; kb < kvBlocks; ++kb) {
        const int buf = kb & 1;
        // The other buffer was last read in iteration kb-1, which ended with a barrier.
        if (kb + 1 < kvBlocks) {
            load_kv_tile<THREADS>(sK + (buf ^ 1) * KV_TILE_BYTES, K, blockTable, blockSize, kvHeads, kvHead, (kb + 1) * BKV,
                                  kvLen, tid);
            load_kv_tile<THREADS>(sV + (buf ^ 1) * KV_TILE_BYTES, V, blockTable, blockSize, kvHeads, kvHead, (kb + 1) * BKV,
                                  kvLen, tid);
        }
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();

        if (kb == 0) {
#pragma unroll
            for (int kk = 0; kk < HD / 16; ++kk) {
                const int row = warp * 16 + (lane & 15);
                ldmatrix_x4(qf[kk], sQ + swizzle<ROW_BYTES>(row, kk * 2 + (lane >> 4)));
            }
        }

        // S = Q K^T for this warp's 16 rows x 64 keys.
        const uint32_t tK = sK + buf * KV_TILE_BYTES;
        float s[BKV / 8][4];
#pragma unroll
        for (int i = 0; i < BKV / 8; ++i)
#pragma unroll
            for (int e = 0; e < 4; ++e) s[i][e] = 0.f;
#pragma unroll
        for (int kk = 0; kk < HD / 16; ++kk)
#pragma unroll
            for (int nj = 0; nj < BKV / 16; ++nj) {
                const int row = nj * 16 + ((lane >> 4) << 3) + (lane & 7);
                uint32_t r[4];
                ldmatrix_x4(r, tK + swizzle<ROW_BYTES>(row, kk * 2 + ((lane >> 3) & 1)));
                mma_bf16_16816(s[2 * nj], qf[kk], r[0], r[1]);
                mma_bf16_16816(s[2 * nj + 1], qf[kk], r[2], r[3]);
            }

        // Causal mask: only blocks whose last key can lie beyond the first query position need it.
        const int key0 = kb * BKV;
        if (key0 + BKV - 1 > past + q0) {
#pragma unroll
            for (int ni = 0; ni < BKV / 8; ++ni)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int key = key0 + ni * 8 + fragCol + (e & 1);
                    const int pos = qPos0 + (e >> 1) * 8;
                    if (key > pos) s[ni][e] = -INFINITY;
                }
        }

        // Online softmax in the log2 domain. Block 0 always holds key 0, which every row may see, so
        // rowMax is finite from the first block on and no row ever computes (-inf) - (-inf).
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float mx = -INFINITY;
#pragma unroll
            for (int ni = 0; ni < BKV / 8; ++ni) mx = fmaxf(mx, fmaxf(s[ni][2 * h], s[ni][2 * h + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float newMax = fmaxf(rowMax[h], mx * scaleLog2);
            const float alpha = exp2f(rowMax[h] - newMax);
            rowMax[h] = newMax;
            float sum = 0.f;
#pragma unroll
            for (int ni = 0; ni < BKV / 8; ++ni)
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const float p = exp2f(s[ni][2 * h + e] * scaleLog2 - newMax);
                    s[ni][2 * h + e] = p;
                    sum += p;
                }
            rowSum[h] = rowSum[h] * alpha + sum;
#pragma unroll
            for (int di = 0; di < HD / 8; ++di) {
                o[di][2 * h] *= alpha;
                o[di][2 * h + 1] *= alpha;
            }
        }

        // O += P V: the S accumulators of two adjacent 8-key tiles form one 16-key A fragment.
        const uint32_t tV = sV + buf * KV_TILE_BYTES;
#pragma unroll
        for (int kk = 0; kk < BKV / 16; ++kk) {
            uint32_t pa[4];
            pa[0] = pack_bf16x2(s[2 * kk][0], s[2 * kk][1]);
            pa[1] = pack_bf16x2(s[2 * kk][2], s[2 * kk][3]);
            pa[2] = pack_bf16x2(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            pa[3] = pack_bf16x2(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
            for (int dj = 0; dj < HD / 16; ++dj) {
                const int row = kk * 16 + (((lane >> 3) & 1) << 3) + (lane & 7);
                uint32_t r[4];
                ldmatrix_x4_trans(r, tV + swizzle<ROW_BYTES>(row, dj * 2 + (lane >> 4)));
                mma_bf16_16816(o[2 * dj], pa, r[0], r[1]);
                mma_bf16_16816(o[2 * dj + 1], pa, r[2], r[3]);
            }
        }
        __syncthreads();
    }
    cp_async_wait<0>();

#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float sum = rowSum[h];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        const float inv = 1.f / sum;
        const int row = q0 + warp * 16 + fragRow + h * 8;
        if (row >= T) continue;
        __nv_bfloat16* out = O + (size_t)row * oTokenStride + (size_t)head * oHeadStride + fragCol;
#pragma unroll
        for (int di = 0; di < HD / 8; ++di)
            *reinterpret_cast<__nv_bfloat162*>(out + di * 8) =
                __floats2bfloat162_rn(o[di][2 * h] * inv, o[di][2 * h + 1] * inv);
    }
}

// attention_block with 32 query rows per warp as two 16-row M tiles (FlashAttention-2's warp
// shape): each K fragment read by ldmatrix feeds the S MMAs of both tiles and each V fragment the PV
// MMAs of both. o and S for 32 rows take 192 registers, so the Q fragments, which attention_block
// keeps in registers, are read again from shared memory for every K/V tile.
// Each row goes through the same operations as in attention_block, in the same order: the same
// 64-key tiles, the same place inside its 16-row MMA tile (blocks and M tiles start at multiples of
// 16 rows), the same mask test, exp2 scale folding and bf16 rounding of P. The one tile a row sees
// here and not in attention_block's 64-row block (the last key tile of a 128-row block, for the
// block's first 64 rows) lies wholly after the row, so it changes nothing: alpha = exp2(0) = 1,
// p = 0. Outputs therefore match attention_block's bit for bit.
// Registers: all 255 on sm_90a with no spills (nvcc 13.0); the sm_80/86/89 builds spill 40 bytes of
// loop-carried values (the row sums among them), a few local loads and stores per 64-key tile.
static __device__ __forceinline__ void attention_block_m32(
    const __nv_bfloat16* __restrict__ Q, int qTokenStride, int qHeadStride, const __nv_bfloat16* __restrict__ K,
    const __nv_bfloat16* __restrict__ V, const int* __restrict__ blockTable, int blockSize, __nv_bfloat16* __restrict__ O,
    int oTokenStride, int oHeadStride, int T, int past, int qHeads, int kvHeads, float scale, int headsFastest) {
    constexpr int WARPS = 4;
    constexpr int MT = 2;                  // 16-row M tiles per warp
    constexpr int WARP_ROWS = 16 * MT;
    constexpr int BQ = WARP_ROWS * WARPS;  // 128 query rows per block
    constexpr int THREADS = 32 * WARPS;
    extern __shared__ __align__(128) unsigned char smem[];
    const uint32_t sQ = smem_addr(smem);
    const uint32_t sK = sQ + BQ * ROW_BYTES;        // 2 buffers
    const uint32_t sV = sK + 2 * KV_TILE_BYTES;     // 2 buffers

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const prefill_causal::Block blk = prefill_causal::block<BQ, BKV>(T, past, qHeads, kvHeads, headsFastest);
    const int head = blk.head, kvHead = blk.kvHead, q0 = blk.q0, kvLen = blk.kvLen, kvBlocks = blk.kvBlocks;

    const __nv_bfloat16* qBase = Q + (size_t)head * qHeadStride;

    load_tile<BQ, THREADS>(sQ, qBase, qTokenStride, q0, T, tid);
    load_kv_tile<THREADS>(sK, K, blockTable, blockSize, kvHeads, kvHead, 0, kvLen, tid);
    load_kv_tile<THREADS>(sV, V, blockTable, blockSize, kvHeads, kvHead, 0, kvLen, tid);
    cp_async_commit();

    const int fragRow = lane >> 2;
    const int fragCol = (lane & 3) * 2;
    const int warpRow0 = q0 + warp * WARP_ROWS;  // first query row of this warp
    const int warpPos0 = past + warpRow0;        // its absolute position; M tile m, half h: + 16m + 8h + fragRow
    const float scaleLog2 = scale * LOG2E;

    float o[MT][HD / 8][4];
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
        for (int i = 0; i < HD / 8; ++i)
#pragma unroll
            for (int e = 0; e < 4; ++e) o[m][i][e] = 0.f;
    float rowMax[MT][2], rowSum[MT][2];
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            rowMax[m][h] = -INFINITY;
            rowSum[m][h] = 0.f;
        }

    // Every warp runs every tile of the block, also those wholly after its rows: skipping them (a
    // warp-uniform branch) made ptxas spill the row sums and measured slower than running them.
    for (int kb = 0; kb < kvBlocks; ++kb) {
        const int buf = kb & 1;
        // One barrier per tile: tile kb has landed for every thread, and every warp is done with
        // tile kb-1, whose buffers the next tile's copies overwrite while this one is computed.
        cp_async_wait<0>();
        __syncthreads();
        if (kb + 1 < kvBlocks) {
            load_kv_tile<THREADS>(sK + (buf ^ 1) * KV_TILE_BYTES, K, blockTable, blockSize, kvHeads, kvHead, (kb + 1) * BKV,
                                  kvLen, tid);
            load_kv_tile<THREADS>(sV + (buf ^ 1) * KV_TILE_BYTES, V, blockTable, blockSize, kvHeads, kvHead, (kb + 1) * BKV,
                                  kvLen, tid);
            cp_async_commit();
        }

        // S = Q K^T for the warp's 32 rows x 64 keys.
        const uint32_t tK = sK + buf * KV_TILE_BYTES;
        float s[MT][BKV / 8][4];
#pragma unroll
        for (int m = 0; m < MT; ++m)
#pragma unroll
            for (int i = 0; i < BKV / 8; ++i)
#pragma unroll
                for (int e = 0; e < 4; ++e) s[m][i][e] = 0.f;
#pragma unroll
        for (int kk = 0; kk < HD / 16; ++kk) {
            uint32_t qf[MT][4];
#pragma unroll
            for (int m = 0; m < MT; ++m) {
                const int row = warp * WARP_ROWS + m * 16 + (lane & 15);
                ldmatrix_x4(qf[m], sQ + swizzle<ROW_BYTES>(row, kk * 2 + (lane >> 4)));
            }
#pragma unroll
            for (int nj = 0; nj < BKV / 16; ++nj) {
                const int row = nj * 16 + ((lane >> 4) << 3) + (lane & 7);
                uint32_t r[4];
                ldmatrix_x4(r, tK + swizzle<ROW_BYTES>(row, kk * 2 + ((lane >> 3) & 1)));
#pragma unroll
                for (int m = 0; m < MT; ++m) {
                    mma_bf16_16816(s[m][2 * nj], qf[m], r[0], r[1]);
                    mma_bf16_16816(s[m][2 * nj + 1], qf[m], r[2], r[3]);
                }
            }
        }

        const int key0 = kb * BKV;
        // P as bf16 A fragments, packed as soon as each M tile's softmax is done: the S floats die
        // before the PV loop, which keeps the kernel within 255 registers without spilling.
        uint32_t pa[MT][BKV / 16][4];
#pragma unroll
        for (int m = 0; m < MT; ++m) {
            // Causal mask, tested per M tile (warp-uniform): the lower tile of a warp can need it
            // where the upper does not.
            if (key0 + BKV - 1 > warpPos0 + m * 16) {
#pragma unroll
                for (int ni = 0; ni < BKV / 8; ++ni)
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const int key = key0 + ni * 8 + fragCol + (e & 1);
                        const int pos = warpPos0 + m * 16 + fragRow + (e >> 1) * 8;
                        if (key > pos) s[m][ni][e] = -INFINITY;
                    }
            }

            // Online softmax in the log2 domain, as in attention_block; tile 0 holds key 0, which
            // every row may see, so rowMax is finite from the first tile on.
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                float mx = -INFINITY;
#pragma unroll
                for (int ni = 0; ni < BKV / 8; ++ni) mx = fmaxf(mx, fmaxf(s[m][ni][2 * h], s[m][ni][2 * h + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                const float newMax = fmaxf(rowMax[m][h], mx * scaleLog2);
                const float alpha = exp2f(rowMax[m][h] - newMax);
                rowMax[m][h] = newMax;
                float sum = 0.f;
#pragma unroll
                for (int ni = 0; ni < BKV / 8; ++ni)
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        const float p = exp2f(s[m][ni][2 * h + e] * scaleLog2 - newMax);
                        s[m][ni][2 * h + e] = p;
                        sum += p;
                    }
                rowSum[m][h] = rowSum[m][h] * alpha + sum;
#pragma unroll
                for (int di = 0; di < HD / 8; ++di) {
                    o[m][di][2 * h] *= alpha;
                    o[m][di][2 * h + 1] *= alpha;
                }
            }
#pragma unroll
            for (int kk = 0; kk < BKV / 16; ++kk) {
                pa[m][kk][0] = pack_bf16x2(s[m][2 * kk][0], s[m][2 * kk][1]);
                pa[m][kk][1] = pack_bf16x2(s[m][2 * kk][2], s[m][2 * kk][3]);
                pa[m][kk][2] = pack_bf16x2(s[m][2 * kk + 1][0], s[m][2 * kk + 1][1]);
                pa[m][kk][3] = pack_bf16x2(s[m][2 * kk + 1][2], s[m][2 * kk + 1][3]);
            }
        }

        // O += P V.
        const uint32_t tV = sV + buf * KV_TILE_BYTES;
#pragma unroll
        for (int kk = 0; kk < BKV / 16; ++kk)
#pragma unroll
            for (int dj = 0; dj < HD / 16; ++dj) {
                const int row = kk * 16 + (((lane >> 3) & 1) << 3) + (lane & 7);
                uint32_t r[4];
                ldmatrix_x4_trans(r, tV + swizzle<ROW_BYTES>(row, dj * 2 + (lane >> 4)));
#pragma unroll
                for (int m = 0; m < MT; ++m) {
                    mma_bf16_16816(o[m][2 * dj], pa[m][kk], r[0], r[1]);
                    mma_bf16_16816(o[m][2 * dj + 1], pa[m][kk], r[2], r[3]);
                }
            }
    }

#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float sum = rowSum[m][h];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            const float inv = 1.f / sum;
            const int row = warpRow0 + m * 16 + fragRow + h * 8;
            if (row >= T) continue;
            __nv_bfloat16* out = O + (size_t)row * oTokenStride + (size_t)head * oHeadStride + fragCol;
#pragma unroll
            for (int di = 0; di < HD / 8; ++di)
                *reinterpret_cast<__nv_bfloat162*>(out + di * 8) =
                    __floats2bfloat162_rn(o[m][di][2 * h] * inv, o[m][di][2 * h + 1] * inv);
        }
}

}  // namespace prefill_attn

#define PREFILL_ATTN_PARAMS                                                                                    \
    const __nv_bfloat16 *__restrict__ Q, int qTokenStride, int qHeadStride, const __nv_bfloat16 *__restrict__ K, \
        const __nv_bfloat16 *__restrict__ V, const int *__restrict__ blockTable, int blockSize,                 \
        __nv_bfloat16 *__restrict__ O,                                                                        \
        int oTokenStride, int oHeadStride, int T, int past, int qHeads, int kvHeads, float scale, int headsFastest
#define PREFILL_ATTN_ARGS \
    Q, qTokenStride, qHeadStride, K, V, blockTable, blockSize, O, oTokenStride, oHeadStride, T, past, qHeads, kvHeads, scale, \
        headsFastest

extern "C" __global__ void __launch_bounds__(128) prefill_attention_causal_hd128(PREFILL_ATTN_PARAMS) {
    prefill_attn::attention_block<4>(PREFILL_ATTN_ARGS);
}

extern "C" __global__ void __launch_bounds__(256) prefill_attention_causal_hd128_w8(PREFILL_ATTN_PARAMS) {
    prefill_attn::attention_block<8>(PREFILL_ATTN_ARGS);
}

extern "C" __global__ void __launch_bounds__(128) prefill_attention_causal_hd128_m32(PREFILL_ATTN_PARAMS) {
    prefill_attn::attention_block_m32(PREFILL_ATTN_ARGS);
}

#undef PREFILL_ATTN_PARAMS
#undef PREFILL_ATTN_ARGS

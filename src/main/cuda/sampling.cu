// sampling.cu: greedy choice and top-k log-probabilities on the GPU, so only ids and a few floats
// cross to the host. For each row r of logits f32 [R][V]:
//   lse[r]          = log(sum(exp(logits)))  (max-shifted)
//   ids[r][0..k)    = the k largest logits, best first, ties to the lower id (as a stable argmax)
//   lps[r][0..k)    = logits[ids] - lse
// ids[r][0] is the greedy token. k = max(1, requested top logprobs) <= limits::MAX_TOP_LOGPROBS.
// Launch: grid = R, block = 1024. CPU counterpart: Sampler#argmax (the greedy id), Sampler#topIds and
// Sampler#logSumExp, which sums in double where this kernel sums in f32.
#include "common.cuh"
#include "limits.cuh"

namespace sampling {
constexpr int MAXK = limits::MAX_TOP_LOGPROBS;

static __device__ __forceinline__ void better(float& v, int& i, float v2, int i2) {
    if (v2 > v || (v2 == v && i2 < i)) {
        v = v2;
        i = i2;
    }
}

// Every lane ends with the warp's largest (v, i), ties to the lower id.
static __device__ __forceinline__ void warp_argmax(float& v, int& i) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float v2 = __shfl_xor_sync(0xffffffffu, v, o);
        int i2 = __shfl_xor_sync(0xffffffffu, i, o);
        better(v, i, v2, i2);
    }
}
}  // namespace sampling

extern "C" __global__ void __launch_bounds__(1024) logits_topk(const float* __restrict__ logits, int V, int k,
                                                                 int* __restrict__ ids, float* __restrict__ lps,
                                                                 float* __restrict__ lse) {
    __shared__ float scratch[32];
    __shared__ float sv[32];
    __shared__ int si[32];
    __shared__ int picked[sampling::MAXK];
    const float* row = logits + (size_t)blockIdx.x * V;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) m = fmaxf(m, row[i]);
    m = qc::block_max(m, scratch);
    float s = 0.f;
    for (int i = threadIdx.x; i < V; i += blockDim.x) s += __expf(row[i] - m);
    s = qc::block_sum(s, scratch);
    float logZ = m + logf(s);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int j = 0; j < k; j++) {
        float bv = -INFINITY;
        int bi = 0x7fffffff;
        for (int i = threadIdx.x; i < V; i += blockDim.x) {
            bool taken = false;
            for (int q = 0; q < j; q++) taken |= picked[q] == i;
            if (!taken) sampling::better(bv, bi, row[i], i);
        }
        sampling::warp_argmax(bv, bi);
        if (lane == 0) {
            sv[warp] = bv;
            si[warp] = bi;
        }
        __syncthreads();
        if (warp == 0) {
            bv = lane < warps ? sv[lane] : -INFINITY;
            bi = lane < warps ? si[lane] : 0x7fffffff;
            sampling::warp_argmax(bv, bi);
            if (lane == 0) {
                // A row of NaNs leaves no winner: report id 0 rather than an out-of-range id.
                if (bi == 0x7fffffff) bi = 0;
                picked[j] = bi;
                ids[(size_t)blockIdx.x * k + j] = bi;
                lps[(size_t)blockIdx.x * k + j] = row[bi] - logZ;
            }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) lse[blockIdx.x] = logZ;
}

// ---- penalties, temperature and top-k candidates for Sampler-exact sampling ----
// The CPU pipeline (Sampler#pick) is: repetition penalty (ids seen in prompt or output), presence and
// frequency penalties (generated ids), temperature, top-k (ties at the k-th value survive), top-p,
// min-p, then a counter-based draw. The first four run here, per row, with the same float32
// operations the Sampler uses (so results are bit-identical); only the top-k survivors then cross
// to the host, where top-p, min-p and the draw (double precision, CounterUniform) finish exactly
// as the Sampler does. Per row r (grid = rows, block = 1024):
//   mode[r]: 0 nothing to do (plain greedy), 1 greedy after penalties, 2 sample
//   proc[r] = raw[r]; then for entries e in [off[r], off[r+1]): id = ids[e];
//     if (flags[e] & 1) and rep[r] != 1: proc = proc < 0 ? proc * rep : proc / rep
//     proc -= delta[e]                       (delta = count*frequency + presence, as float)
//   mode 2: proc /= temp[r] for every id (skipped when temp == 1, as the Sampler does)
extern "C" __global__ void __launch_bounds__(1024) sample_prepare(
    const float* __restrict__ raw, float* __restrict__ proc, int V, const int* __restrict__ mode,
    const float* __restrict__ rep, const float* __restrict__ temp, const int* __restrict__ off,
    const int* __restrict__ ids, const int* __restrict__ flags, const float* __restrict__ delta) {
    int r = blockIdx.x;
    int m = mode[r];
    if (m == 0) return;
    const float* in = raw + (size_t)r * V;
    float* out = proc + (size_t)r * V;
    for (int i = threadIdx.x; i < V; i += blockDim.x) out[i] = in[i];
    __syncthreads();
    float pen = rep[r];
    for (int e = off[r] + threadIdx.x; e < off[r + 1]; e += blockDim.x) {
        int id = ids[e];
        float v = out[id];
        if ((flags[e] & 1) && pen != 1.f) v = v < 0.f ? v * pen : v / pen;
        v -= delta[e];
        out[id] = v;
    }
    __syncthreads();
    float t = temp[r];
    if (m == 2 && t != 1.f) {
        for (int i = threadIdx.x; i < V; i += blockDim.x) out[i] = out[i] / t;
    }
}

namespace sampling {
static __device__ __forceinline__ unsigned ordered(float f) {
    unsigned u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
}  // namespace sampling

// For mode-2 rows with 0 < topK[r] < V: every id whose processed logit is >= the topK-th largest
// (ties included), at most maxCand of them, as (candIds, candVals)[r][0..count); count[r] = -1
// when the host must use the whole row instead (top-k off, or more ties than maxCand).
// The threshold comes from a 4-pass 8-bit radix select over order-preserving keys.
extern "C" __global__ void __launch_bounds__(1024) topk_candidates(
    const float* __restrict__ proc, int V, const int* __restrict__ mode, const int* __restrict__ topK, int maxCand,
    int* __restrict__ count, int* __restrict__ candIds, float* __restrict__ candVals) {
    __shared__ unsigned hist[256];
    __shared__ unsigned prefix, prefixMask;
    __shared__ int remaining;
    __shared__ int n;
    int r = blockIdx.x;
    int k = topK[r];
    if (mode[r] != 2) return;
    if (k <= 0 || k >= V) {
        if (threadIdx.x == 0) count[r] = -1;
        return;
    }
    const float* row = proc + (size_t)r * V;
    if (threadIdx.x == 0) {
        prefix = 0;
        prefixMask = 0;
        remaining = k;
        n = 0;
    }
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int i = threadIdx.x; i < 256; i += blockDim.x) hist[i] = 0;
        __syncthreads();
        for (int i = threadIdx.x; i < V; i += blockDim.x) {
            unsigned u = sampling::ordered(row[i]);
            if ((u & prefixMask) == prefix) atomicAdd(&hist[(u >> shift) & 255u], 1u);
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            int need = remaining;
            int d = 255;
            for (; d > 0; d--) {
                if ((int)hist[d] >= need) break;
                need -= hist[d];
            }
            remaining = need;
            prefix |= (unsigned)d << shift;
            prefixMask |= 255u << shift;
        }
        __syncthreads();
    }
    unsigned threshold = prefix;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        float v = row[i];
        if (sampling::ordered(v) >= threshold) {
            int slot = atomicAdd(&n, 1);
            if (slot < maxCand) {
                candIds[(size_t)r * maxCand + slot] = i;
                candVals[(size_t)r * maxCand + slot] = v;
            }
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) count[r] = n > maxCand ? -1 : n;
}

// ---- argmax and log-sum-exp in two stages (the k = 1 case, every plain decode step) ----
// logits_argmax_partial: grid (CHUNKS, R), block 256. Block c of row r reduces ids
// [c*chunk, (c+1)*chunk) to (max, sum of exp(x - max), lowest id of the max) in one pass (online
// rescaling), into part[r][c][3]. logits_argmax_finish: grid R, block 64 (one lane per chunk):
// combines the chunks; ids[r] = argmax (ties to the lower id), lps[r] = -log(sum) (the argmax's
// log-probability), lse[r] = max + log(sum). Same results as logits_topk with k = 1, ~20x faster:
// a single block per row cannot pull 600 KB of logits at more than a fraction of the bandwidth.
namespace sampling {
struct Top {
    float m, s;
    int i;
};

static __device__ __forceinline__ Top merge(Top a, Top b) {
    if (b.m > a.m || (b.m == a.m && b.i < a.i)) {
        Top t = a;
        a = b;
        b = t;
    }
    // a holds the max (or the lower id among equal maxima)
    float s = a.s + (b.s == 0.f ? 0.f : b.s * __expf(b.m - a.m));
    return Top{a.m, s, a.i};
}

static __device__ __forceinline__ Top warp_merge(Top t) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        Top u{__shfl_xor_sync(0xffffffffu, t.m, o), __shfl_xor_sync(0xffffffffu, t.s, o),
              __shfl_xor_sync(0xffffffffu, t.i, o)};
        t = merge(t, u);
    }
    return t;
}
}  // namespace sampling

extern "C" __global__ void __launch_bounds__(256) logits_argmax_partial(const float* __restrict__ logits, int V, int chunk,
                                                                        float* __restrict__ part) {
    __shared__ float sm[8], ss[8];
    __shared__ int si[8];
    int c = blockIdx.x, r = blockIdx.y;
    const float* row = logits + (size_t)r * V;
    int lo = c * chunk, hi = min(V, lo + chunk);
    sampling::Top t{-INFINITY, 0.f, 0x7fffffff};
    for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        float x = row[i];
        if (x > t.m) {
            t.s = (t.s == 0.f ? 0.f : t.s * __expf(t.m - x)) + 1.f;
            t.m = x;
            t.i = i;
        } else {
            t.s += __expf(x - t.m);
        }
    }
    t = sampling::warp_merge(t);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) {
        sm[warp] = t.m;
        ss[warp] = t.s;
        si[warp] = t.i;
    }
    __syncthreads();
    if (warp == 0) {
        int warps = blockDim.x >> 5;
        t = lane < warps ? sampling::Top{sm[lane], ss[lane], si[lane]} : sampling::Top{-INFINITY, 0.f, 0x7fffffff};
        t = sampling::warp_merge(t);
        if (lane == 0) {
            float* p = part + ((size_t)r * gridDim.x + c) * 3;
            p[0] = t.m;
            p[1] = t.s;
            p[2] = __int_as_float(t.i);
        }
    }
}

extern "C" __global__ void logits_argmax_finish(const float* __restrict__ part, int chunks, int* __restrict__ ids,
                                                float* __restrict__ lps, float* __restrict__ lse) {
    int r = blockIdx.x, lane = threadIdx.x;
    sampling::Top t{-INFINITY, 0.f, 0x7fffffff};
    for (int c = lane; c < chunks; c += 32) {
        const float* p = part + ((size_t)r * chunks + c) * 3;
        t = sampling::merge(t, sampling::Top{p[0], p[1], __float_as_int(p[2])});
    }
    t = sampling::warp_merge(t);
    if (lane == 0) {
        float logZ = t.m + logf(t.s);
        ids[r] = t.i == 0x7fffffff ? 0 : t.i;
        lps[r] = -logf(t.s);
        lse[r] = logZ;
    }
}

// prefill_profile.cu: runs the 8K prompt's big kernels alone (src/main/cuda's prefill attention and
// wgmma GEMMs, Qwen2.5-7B shapes, unit-normal operands) so that `ncu` can read their counters and
// CUDA events can time them, beside the peer's cuBLAS and SDPA kernels (peer_kernels.py).
//
// Build (on the GPU machine, from the repository root):
//   nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -Isrc/main/cuda \
//        -o prefill_profile tools/gpu/kernel-harness/prefill_profile.cu
//   (add -DQC_OLD_ATTENTION -Itools/gpu/kernel-harness to time old_attention_sm90.cu's kernel first:
//   profile-prefill.sh says how to make it)
// Run: ./prefill_profile [--reps N] [--only NAME]; each case prints
//   <name> <median us> <TFLOP/s>
// The kernels are the ones the engine launches, with the engine's launch layout (PrefillAttention,
// PrefillGemm). The GPU tests hold them to the CPU engine; here each attention kernel's outputs are
// only compared bit for bit with the first one's, at 8K tokens and for a chunk past cached positions
// through a block table in reverse order. The *_tma cases are tma_gemm_sm90.cuh's kernels (not in the
// engine), compared bit for bit with the engine's kernel of the same shape and timed beside it.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <numeric>
#include <vector>

#include <cuda.h>
#include <cudaTypedefs.h>

#include "prefill_attention_sm90.cu"
#include "prefill_gemm_sm90.cu"
#include "tma_gemm_sm90.cuh"  // the GEMMs with TMA stages, next to this file
#ifdef QC_OLD_ATTENTION
#include "old_attention_sm90.cu"  // a previous prefill_attention_sm90.cu, renamed, to compare against
#endif

#include "cuda_check.cuh"

namespace {

constexpr int T = 8192, HIDDEN = 3584, QH = 28, KVH = 4, HD = 128, FFN = 18944, BLOCK = 64;

__global__ void fill_normal(__nv_bfloat16* p, size_t n, unsigned seed, float scale) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        // Two hashed uniforms through Box-Muller: unit-normal draws, as a prompt's activations are.
        unsigned h = (unsigned)i * 2654435761u ^ seed;
        h ^= h >> 15; h *= 2246822519u; h ^= h >> 13; h *= 3266489917u; h ^= h >> 16;
        unsigned g = h * 747796405u + 2891336453u;
        g ^= g >> 15; g *= 2246822519u; g ^= g >> 13;
        const float u1 = ((h >> 8) + 1) * (1.0f / 16777217.0f), u2 = (g >> 8) * (1.0f / 16777216.0f);
        p[i] = __float2bfloat16(scale * sqrtf(-2.f * logf(u1)) * cospif(2.f * u2));
    }
}

__nv_bfloat16* normal(size_t n, unsigned seed, float scale) {
    __nv_bfloat16* p;
    CHECK(cudaMalloc(&p, n * 2));
    fill_normal<<<1024, 256>>>(p, n, seed, scale);
    CHECK(cudaGetLastError());
    return p;
}

// Median time of each launch over reps, the launches timed one at a time in turn, each rep starting
// one further along: clocks that fall under a long run's power draw weigh on every launch alike (timed
// in blocks, one after the other, the second of two 3 ms GEMMs lost ~15%).
std::vector<double> medians_us(const std::vector<std::function<void()>>& launches, int reps) {
    const size_t n = launches.size();
    cudaEvent_t a, b;
    CHECK(cudaEventCreate(&a));
    CHECK(cudaEventCreate(&b));
    for (int i = 0; i < 3; ++i)
        for (const auto& launch : launches) launch();
    CHECK(cudaDeviceSynchronize());
    std::vector<std::vector<float>> ms(n);
    for (int i = 0; i < reps; ++i) {
        for (size_t j = 0; j < n; ++j) {
            const size_t k = (i + j) % n;
            CHECK(cudaEventRecord(a));
            launches[k]();
            CHECK(cudaEventRecord(b));
            CHECK(cudaEventSynchronize(b));
            float t;
            CHECK(cudaEventElapsedTime(&t, a, b));
            ms[k].push_back(t);
        }
    }
    CHECK(cudaGetLastError());
    CHECK(cudaEventDestroy(a));
    CHECK(cudaEventDestroy(b));
    std::vector<double> medians;
    for (auto& v : ms) {
        std::sort(v.begin(), v.end());
        medians.push_back(v[v.size() / 2] * 1e3);
    }
    return medians;
}

double median_us(const std::function<void()>& launch, int reps) { return medians_us({launch}, reps)[0]; }

bool wanted(const char* only, const char* name) { return only == nullptr || std::strstr(name, only) != nullptr; }

}  // namespace

int main(int argc, char** argv) {
    int reps = 20;
    const char* only = nullptr;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    }
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device %s, %d SMs\n", prop.name, prop.multiProcessorCount);

    // Attention: Q [T][QH*HD], K/V pools [T/64 blocks][KVH][64][HD] in position order, O [T][QH*HD].
    __nv_bfloat16* q = normal((size_t)T * QH * HD, 1, 1.f);
    __nv_bfloat16* k = normal((size_t)T * KVH * HD, 2, 1.f);
    __nv_bfloat16* v = normal((size_t)T * KVH * HD, 3, 1.f);
    __nv_bfloat16* o;
    CHECK(cudaMalloc(&o, (size_t)T * QH * HD * 2));
    std::vector<int> table(T / BLOCK);
    for (int i = 0; i < T / BLOCK; ++i) table[i] = i;
    int* bt;
    CHECK(cudaMalloc(&bt, table.size() * 4));
    CHECK(cudaMemcpy(bt, table.data(), table.size() * 4, cudaMemcpyHostToDevice));
    const float scale = 1.f / std::sqrt((float)HD);
    const double attnFlops = 4.0 * QH * (T * (T + 1.0) / 2) * HD;
    const int attnSmem = prefill_attn_sm90::SHARED_BYTES;
    using AttnKernel = void (*)(const __nv_bfloat16*, int, int, const __nv_bfloat16*, const __nv_bfloat16*, const int*, int,
                                __nv_bfloat16*, int, int, int, int, int, int, float, int);
    struct Attn {
        const char* name;
        AttnKernel kernel;
    };
    const Attn attns[] = {
#ifdef QC_OLD_ATTENTION
        {"attention_old_pp", old_prefill_attention_causal_hd128_wgmma_pp},
#endif
        {"attention_pp", prefill_attention_causal_hd128_wgmma_pp},
        {"attention_wgmma", prefill_attention_causal_hd128_wgmma},
    };
    // Every kernel's output bit for bit against the first one's (each row sees the same operations in
    // the same order).
    std::vector<unsigned short> first, mine((size_t)T * QH * HD);
    for (const Attn& at : attns) {
        if (!wanted(only, at.name)) continue;
        CHECK(cudaFuncSetAttribute(at.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, attnSmem));
        auto launch = [&] {
            at.kernel<<<dim3(QH, (T + 127) / 128), 384, attnSmem>>>(q, QH * HD, HD, k, v, bt, BLOCK, o, QH * HD, HD, T, 0,
                                                                     QH, KVH, scale, 1);
        };
        CHECK(cudaMemset(o, 0xff, (size_t)T * QH * HD * 2));
        launch();
        CHECK(cudaDeviceSynchronize());
        CHECK(cudaMemcpy(mine.data(), o, mine.size() * 2, cudaMemcpyDeviceToHost));
        long diff = -1;
        if (first.empty()) first = mine;
        else diff = (long)std::inner_product(first.begin(), first.end(), mine.begin(), 0L, std::plus<long>(),
                                             [](unsigned short x, unsigned short y) { return x != y ? 1L : 0L; });
        double us = median_us(launch, reps);
        std::printf("%s %.1f %.0f", at.name, us, attnFlops / (us * 1e6));
        if (diff >= 0) std::printf("  (%ld of %zu outputs differ from the first)", diff, mine.size());
        std::printf("\n");
    }
    // A prompt past a cached prefix and cut mid-tile, through the block table in reverse order: the
    // loader's partial tiles and table walk against the first kernel's.
    {
        const int t2 = 1000, past2 = 3000, blocks2 = (t2 + past2 + BLOCK - 1) / BLOCK;
        std::vector<int> rev(T / BLOCK);
        for (int i = 0; i < T / BLOCK; ++i) rev[i] = T / BLOCK - 1 - i;
        CHECK(cudaMemcpy(bt, rev.data(), rev.size() * 4, cudaMemcpyHostToDevice));
        std::vector<unsigned short> ref;
        for (const Attn& at : attns) {
            if (!wanted(only, at.name) || only != nullptr) continue;
            CHECK(cudaMemset(o, 0xff, (size_t)T * QH * HD * 2));
            at.kernel<<<dim3(QH, (t2 + 127) / 128), 384, attnSmem>>>(q, QH * HD, HD, k, v, bt, BLOCK, o, QH * HD, HD, t2,
                                                                      past2, QH, KVH, scale, 1);
            CHECK(cudaDeviceSynchronize());
            std::vector<unsigned short> got((size_t)t2 * QH * HD);
            CHECK(cudaMemcpy(got.data(), o, got.size() * 2, cudaMemcpyDeviceToHost));
            if (ref.empty()) { ref = got; continue; }
            long d = 0;
            for (size_t i = 0; i < got.size(); ++i) d += got[i] != ref[i];
            std::printf("%s, 1000 tokens past 3000, reversed table (%d blocks): %ld of %zu outputs differ from the first\n",
                        at.name, blocks2, d, got.size());
        }
        CHECK(cudaMemcpy(bt, table.data(), table.size() * 4, cudaMemcpyHostToDevice));
    }

    // Projections at 8192 rows: activations unit-normal, weights at the 7B's scale (std ~0.02).
    __nv_bfloat16* a = normal((size_t)T * FFN, 4, 1.f);  // big enough for down_proj's [T][FFN] input
    __nv_bfloat16* wgu = normal((size_t)2 * FFN * HIDDEN, 5, 0.02f);
    __nv_bfloat16* wd = normal((size_t)HIDDEN * FFN, 6, 0.02f);
    __nv_bfloat16* wo = normal((size_t)HIDDEN * HIDDEN, 7, 0.02f);
    __nv_bfloat16* cb;
    CHECK(cudaMalloc(&cb, (size_t)T * FFN * 2));
    float* resid;
    CHECK(cudaMalloc(&resid, (size_t)T * HIDDEN * 4));
    CHECK(cudaMemset(resid, 0, (size_t)T * HIDDEN * 4));
    using namespace prefill_gemm_sm90;
    struct Gemm {
        const char* name;
        void (*kernel)(const __nv_bfloat16*, const __nv_bfloat16*, __nv_bfloat16*, float*, const __nv_bfloat16*, const void*,
                       int, int, int);
        int bn, smem, n, kdim;
        bool swiglu, residual;
        const __nv_bfloat16* w;
    };
    const Gemm gemms[] = {
        {"gateup_bn288", prefill_gemm_wgmma_ws_swiglu_bn288, 288, smem_bytes_ws<288, 4>(), FFN, HIDDEN, true, false, wgu},
        {"gateup_bn256", prefill_gemm_wgmma_ws_swiglu, 256, smem_bytes_ws<256, 4>(), FFN, HIDDEN, true, false, wgu},
        {"down", prefill_gemm_wgmma_ws_bf16, 256, smem_bytes_ws<256, 4>(), HIDDEN, FFN, false, true, wd},
        {"o_proj", prefill_gemm_wgmma_ws_bf16, 256, smem_bytes_ws<256, 4>(), HIDDEN, HIDDEN, false, true, wo},
    };
    for (const Gemm& g : gemms) {
        if (!wanted(only, g.name)) continue;
        CHECK(cudaFuncSetAttribute(g.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, g.smem));
        const int outTile = g.swiglu ? g.bn / 2 : g.bn;
        const int blocks = ((T + 127) / 128) * ((g.n + outTile - 1) / outTile);
        double us = median_us([&] {
            g.kernel<<<blocks, 384, g.smem>>>(a, g.w, g.swiglu ? cb : nullptr, g.residual ? resid : nullptr, nullptr,
                                              g.residual ? resid : nullptr, T, g.n, g.kdim);
        }, reps);
        const double flops = 2.0 * T * (g.swiglu ? 2.0 * g.n : g.n) * g.kdim;
        std::printf("%s %.1f %.0f\n", g.name, us, flops / (us * 1e6));
    }

    // The same GEMMs with their stages loaded by TMA (tma_gemm_sm90.cuh): every output bit against the
    // engine's kernel on the same operands (a residual case from a zeroed residual each time), then timed.
    void* encodeFn = nullptr;
    cudaDriverEntryPointQueryResult found;
    CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &encodeFn, 12000, cudaEnableDefault, &found));
    auto encode = [&](const void* base, int cols, int rows, int boxRows) {
        CUtensorMap map;
        const cuuint64_t dims[2] = {(cuuint64_t)cols, (cuuint64_t)rows};
        const cuuint64_t strides[1] = {(cuuint64_t)cols * 2};
        const cuuint32_t box[2] = {64, (cuuint32_t)boxRows};
        const cuuint32_t estr[2] = {1, 1};
        CUresult r = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(encodeFn)(
            &map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<void*>(base), dims, strides, box, estr,
            CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
            CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
        if (r != CUDA_SUCCESS) {
            std::fprintf(stderr, "cuTensorMapEncodeTiled failed (%d) for %d x %d, box rows %d\n", (int)r, rows, cols, boxRows);
            std::exit(2);
        }
        return map;
    };
    using TmaKernel = void (*)(CUtensorMap, CUtensorMap, __nv_bfloat16*, float*, const __nv_bfloat16*, const void*, int,
                               int, int);
    struct TmaGemm {
        const char* name;
        TmaKernel kernel;
        const Gemm* engine;  // the engine's kernel for the same shape
    };
    const TmaGemm tmas[] = {
        {"gateup_bn288_tma", prefill_gemm_tma_ws_swiglu_bn288, &gemms[0]},
        {"down_tma", prefill_gemm_tma_ws_bf16, &gemms[2]},
        {"o_proj_tma", prefill_gemm_tma_ws_bf16, &gemms[3]},
    };
    if (encodeFn == nullptr || found != cudaDriverEntryPointSuccess) {
        std::printf("no cuTensorMapEncodeTiled: TMA cases skipped\n");
        return 0;
    }
    for (const TmaGemm& t : tmas) {
        if (!wanted(only, t.name)) continue;
        const Gemm& g = *t.engine;
        CHECK(cudaFuncSetAttribute(t.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, g.smem));
        // The engine twin too: with --only its own case has not run to raise it.
        CHECK(cudaFuncSetAttribute(g.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, g.smem));
        const CUtensorMap mapA = encode(a, g.kdim, T, 128);
        const CUtensorMap mapW = encode(g.w, g.kdim, g.swiglu ? 2 * g.n : g.n, g.swiglu ? g.bn / 2 : g.bn);
        const int outTile = g.swiglu ? g.bn / 2 : g.bn;
        const int blocks = ((T + 127) / 128) * ((g.n + outTile - 1) / outTile);
        __nv_bfloat16* cOut = g.swiglu ? cb : nullptr;
        float* fOut = g.residual ? resid : nullptr;
        const size_t bytes = (size_t)T * g.n * (g.swiglu ? 2 : 4);
        auto run = [&](bool tma) {
            if (tma)
                t.kernel<<<blocks, 384, g.smem>>>(mapA, mapW, cOut, fOut, nullptr, fOut, T, g.n, g.kdim);
            else
                g.kernel<<<blocks, 384, g.smem>>>(a, g.w, cOut, fOut, nullptr, fOut, T, g.n, g.kdim);
        };
        std::vector<unsigned char> ref(bytes), got(bytes);
        for (int tma = 0; tma < 2; ++tma) {
            void* dst = g.swiglu ? (void*)cb : (void*)resid;
            CHECK(cudaMemset(dst, g.residual ? 0 : 0xff, bytes));
            run(tma == 1);
            CHECK(cudaDeviceSynchronize());
            CHECK(cudaMemcpy(tma ? got.data() : ref.data(), dst, bytes, cudaMemcpyDeviceToHost));
        }
        const int esz = g.swiglu ? 2 : 4;
        long differ = 0;
        for (size_t i = 0; i < bytes; i += esz) differ += std::memcmp(&ref[i], &got[i], esz) != 0;
        const std::vector<double> us2 = medians_us({[&] { run(true); }, [&] { run(false); }}, reps);
        const double us = us2[0], usEngine = us2[1];
        const double flops = 2.0 * T * (g.swiglu ? 2.0 * g.n : g.n) * g.kdim;
        std::printf("%s %.1f %.0f  (engine's %s %.1f us, reps alternating; %ld of %zu outputs differ from it)\n", t.name, us,
                    flops / (us * 1e6), g.name, usEngine, differ, bytes / esz);
    }
    CHECK(cudaDeviceSynchronize());
    return 0;
}

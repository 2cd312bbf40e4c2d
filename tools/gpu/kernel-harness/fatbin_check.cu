// fatbin_check.cu: loads the project's kernels/qwen.fatbin through the CUDA driver API only (the
// path the Java engine takes through JCuda: cuModuleLoadData, cuModuleGetFunction,
// cuFuncSetAttribute, cuLaunchKernel), checks every prefill kernel name resolves, and runs the
// mma.sync and the wgmma GEMM from it against a CPU reference. This proves the sm_90a machine code
// inside the fatbin is the one the driver picks on an H200 (on plain sm_90 code the wgmma kernels trap).
//
// Build and run (GPU machine, repository root, after src/main/cuda/build-kernels.sh wrote the fatbin):
//   nvcc -O2 -std=c++17 -o fatbin_check tools/gpu/kernel-harness/fatbin_check.cu -lcuda
//   ./fatbin_check path/to/qwen.fatbin
#include <cuda.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#define CU(call)                                                                        \
    do {                                                                                \
        CUresult r_ = (call);                                                           \
        if (r_ != CUDA_SUCCESS) {                                                       \
            const char* msg = nullptr;                                                  \
            cuGetErrorString(r_, &msg);                                                 \
            std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,  \
                         msg ? msg : "?");                                              \
            std::exit(2);                                                               \
        }                                                                               \
    } while (0)

static uint16_t to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u += 0x7FFF + ((u >> 16) & 1);  // round to nearest even
    return (uint16_t)(u >> 16);
}

static float from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: fatbin_check qwen.fatbin\n");
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    std::vector<char> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (image.empty()) {
        std::fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    CU(cuInit(0));
    CUdevice dev;
    CU(cuDeviceGet(&dev, 0));
    CUcontext ctx;
    CU(cuDevicePrimaryCtxRetain(&ctx, dev));
    CU(cuCtxSetCurrent(ctx));
    CUmodule mod;
    CU(cuModuleLoadData(&mod, image.data()));

    const char* names[] = {"prefill_gemm_bf16_bn128",        "prefill_gemm_bf16_bn256",
                           "prefill_gemm_swiglu_bn128",      "prefill_gemm_swiglu_bn256",
                           "prefill_gemm_wgmma_bf16",        "prefill_gemm_wgmma_swiglu",
                           "prefill_gemm_wgmma_bf16_bn128",  "prefill_gemm_wgmma_ws_bf16",
                           "prefill_gemm_wgmma_ws_swiglu",   "prefill_attention_causal_hd128",
                           "prefill_attention_causal_hd128_w8"};
    for (const char* n : names) {
        CUfunction f;
        CU(cuModuleGetFunction(&f, mod, n));
    }
    std::printf("all %zu prefill kernels found in %s (%zu bytes)\n", sizeof(names) / sizeof(names[0]), argv[1],
                image.size());

    // C = A W^T + bias on a ragged M, checked against a double-precision CPU product.
    const int M = 300, N = 512, K = 1024;
    std::vector<uint16_t> hA((size_t)M * K), hW((size_t)N * K), hBias(N);
    uint64_t state = 12345;
    auto uni = [&] {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return ((state >> 40) * (1.0f / 16777216.0f)) * 2.f - 1.f;
    };
    for (auto& v : hA) v = to_bf16(uni());
    for (auto& v : hW) v = to_bf16(uni() * 0.06f);
    for (auto& v : hBias) v = to_bf16(uni());
    std::vector<double> ref((size_t)M * N);
    for (int m = 0; m < M; ++m)
        for (int n = 0; n < N; ++n) {
            double s = from_bf16(hBias[n]);
            for (int k = 0; k < K; ++k) s += (double)from_bf16(hA[(size_t)m * K + k]) * from_bf16(hW[(size_t)n * K + k]);
            ref[(size_t)m * N + n] = s;
        }
    CUdeviceptr dA, dW, dBias, dC;
    CU(cuMemAlloc(&dA, hA.size() * 2));
    CU(cuMemAlloc(&dW, hW.size() * 2));
    CU(cuMemAlloc(&dBias, hBias.size() * 2));
    CU(cuMemAlloc(&dC, (size_t)M * N * 2));
    CU(cuMemcpyHtoD(dA, hA.data(), hA.size() * 2));
    CU(cuMemcpyHtoD(dW, hW.data(), hW.size() * 2));
    CU(cuMemcpyHtoD(dBias, hBias.data(), hBias.size() * 2));

    struct Launch {
        const char* name;
        int bn, threads, smem;
    };
    const Launch launches[] = {{"prefill_gemm_bf16_bn128", 128, 256, 3 * (128 + 128) * 64 * 2},
                               {"prefill_gemm_wgmma_bf16", 256, 256, 4 * (128 + 256) * 128 + 1024},
                               {"prefill_gemm_wgmma_ws_bf16", 256, 384, 4 * (128 + 256) * 128 + 1024 + 256}};
    int failures = 0;
    for (const Launch& l : launches) {
        CUfunction f;
        CU(cuModuleGetFunction(&f, mod, l.name));
        CU(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, l.smem));
        CU(cuMemsetD16(dC, 0x7FC0, (size_t)M * N));  // bf16 NaN
        CUdeviceptr nullPtr = 0;
        int m = M, n = N, k = K;
        void* params[] = {&dA, &dW, &dC, &nullPtr, &dBias, &nullPtr, &m, &n, &k};
        const unsigned grid = ((M + 127) / 128) * ((N + l.bn - 1) / l.bn);
        CU(cuLaunchKernel(f, grid, 1, 1, l.threads, 1, 1, l.smem, nullptr, params, nullptr));
        CU(cuCtxSynchronize());
        std::vector<uint16_t> hC((size_t)M * N);
        CU(cuMemcpyDtoH(hC.data(), dC, hC.size() * 2));
        double num = 0, den = 0;
        size_t nonFinite = 0;
        for (size_t i = 0; i < hC.size(); ++i) {
            const double v = from_bf16(hC[i]);
            if (!std::isfinite(v)) {
                ++nonFinite;
                continue;
            }
            num += (v - ref[i]) * (v - ref[i]);
            den += ref[i] * ref[i];
        }
        const double rel = std::sqrt(num / den);
        const bool ok = nonFinite == 0 && rel < 1e-2;
        failures += !ok;
        std::printf("%-28s via driver API: relL2=%.2e non-finite=%zu %s\n", l.name, rel, nonFinite, ok ? "ok" : "FAIL");
    }
    CU(cuModuleUnload(mod));
    CU(cuDevicePrimaryCtxRelease(dev));
    std::printf("%s\n", failures ? "FATBIN CHECK FAIL" : "FATBIN CHECK PASS");
    return failures ? 1 : 0;
}

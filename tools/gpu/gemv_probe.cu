// gemv_probe.cu: the batch-1 decode GEMVs of Qwen2.5-7B's shapes timed inside CUDA graphs, as the
// engine replays them, beside a plain read of the same bytes (bandwidth.cu's read_bandwidth).
// Why a C++ probe: `bench` times a kernel alone as the mean of launches from the JVM, where each
// JCuda launch costs host time comparable to a 10-25 us kernel, so small GEMVs look slower than they
// run in the engine's graphs. Here each number is one launch's share of a graph of 56 launches (28
// for the layer chains), every launch on its own copy of the weights so none is still in L2.
// Prints, per line: the kernel and launch shape (W warps a block, ks warps a row pair, the norm's sums
// of squares streamed or reduced by the block first), us a launch, and TB/s of weights.
// Built by tools/gpu/run-gpu-checks.sh prepare (nvcc here; the GPU machine has none), run by its
// `probe` stage. Operands are zeros: the work does not depend on the values.
#include "gemv.cu"
#include "bandwidth.cu"
#include <cstdio>
#include <vector>
#include <functional>
#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e)); exit(1);} } while (0)

static cudaStream_t st;
// GPU time of one launch inside a graph of `n` launches: the best of 5 replays after a first one.
static float graphMicros(const std::function<void()>& launch, int n) {
    cudaGraph_t g; cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < n; i++) launch();
    CK(cudaStreamEndCapture(st, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    cudaEvent_t a, b; cudaEventCreate(&a); cudaEventCreate(&b);
    float best = 1e30f;
    for (int r = 0; r < 6; r++) {
        cudaEventRecord(a, st); cudaGraphLaunch(ge, st); cudaEventRecord(b, st); CK(cudaEventSynchronize(b));
        float ms; cudaEventElapsedTime(&ms, a, b); if (r > 0 && ms < best) best = ms;
    }
    cudaGraphExecDestroy(ge); cudaGraphDestroy(g);
    return best * 1000.f / n;
}

int main() {
    CK(cudaStreamCreate(&st));
    const int H = 3584, QKV = 4608, I = 18944, HD = 128, QD = 3584, KVD = 512;
    // Every layer's weights distinct so nothing stays in L2 between launches (28 layers).
    const int L = 28;
    size_t qkvW = (size_t)QKV * H, oW = (size_t)H * H, guW = (size_t)2 * I * H, dW = (size_t)H * I;
    __nv_bfloat16 *wq, *wo, *wgu, *wd, *nw, *bias, *kc, *vc;
    CK(cudaMalloc(&wq, 2 * qkvW * L)); CK(cudaMalloc(&wo, 2 * oW * L)); CK(cudaMalloc(&wgu, 2 * guW * L)); CK(cudaMalloc(&wd, 2 * dW * L));
    CK(cudaMemset(wq, 0, 2 * qkvW * L)); CK(cudaMemset(wo, 0, 2 * oW * L)); CK(cudaMemset(wgu, 0, 2 * guW * L)); CK(cudaMemset(wd, 0, 2 * dW * L));
    CK(cudaMalloc(&nw, 2 * H)); CK(cudaMemset(nw, 0, 2 * H));
    CK(cudaMalloc(&bias, 2 * QKV)); CK(cudaMemset(bias, 0, 2 * QKV));
    CK(cudaMalloc(&kc, 2 * 64 * 4 * 64 * HD)); CK(cudaMalloc(&vc, 2 * 64 * 4 * 64 * HD));
    float *x, *q, *act, *invf, *red;
    CK(cudaMalloc(&x, 4 * H)); CK(cudaMemset(x, 0, 4 * H));
    CK(cudaMalloc(&q, 4 * QD)); CK(cudaMalloc(&act, 4 * I)); CK(cudaMemset(act, 0, 4 * I));
    CK(cudaMalloc(&invf, 4 * HD / 2)); CK(cudaMemset(invf, 0, 2 * HD));
    CK(cudaMalloc(&red, 4 * 4096));
    int *slots, *pos, *bt;
    CK(cudaMalloc(&slots, 4)); CK(cudaMemset(slots, 0, 4));
    CK(cudaMalloc(&pos, 4)); int p128 = 128; CK(cudaMemcpy(pos, &p128, 4, cudaMemcpyHostToDevice));
    CK(cudaMalloc(&bt, 4 * 64)); std::vector<int> tab(64); for (int i = 0; i < 64; i++) tab[i] = i;
    CK(cudaMemcpy(bt, tab.data(), 4 * 64, cudaMemcpyHostToDevice));
    int layer = 0;
    auto next = [&]() { int l = layer; layer = (layer + 1) % L; return l; };

    // warps W a block, KS a pair
    auto qkvNorm = [&](int W, int ks, int streamed) {
        return [=, &next]() {
            int l = next();
            int pairs = QKV / 2, perBlock = W / ks;
            dim3 grid((pairs + perBlock - 1) / perBlock, 1);
            auto k = ks == 4 ? gemv_qkv_norm_bt1_ks4 : ks == 2 ? gemv_qkv_norm_bt1_ks2 : gemv_qkv_norm_bt1;
            k<<<grid, 32 * W, 0, st>>>(wq + qkvW * l, x, QKV, H, 1, q, nullptr, bias, invf, 1.f, kc, vc, slots, pos, QD, KVD, HD, bt, 64, 64,
                                       nullptr, nw, nullptr, 1e-6f, streamed);
        };
    };
    auto resid = [&](__nv_bfloat16* base, size_t per, int N, int K, const float* in, int W, int ks) {
        return [=, &next]() {
            int l = next();
            int pairs = (N + 1) / 2, perBlock = W / ks;
            dim3 grid((pairs + perBlock - 1) / perBlock, 1);
            auto k = ks == 4 ? gemv_residual_bt1_ks4 : ks == 2 ? gemv_residual_bt1_ks2 : gemv_residual_bt1;
            k<<<grid, 32 * W, 0, st>>>(base + per * l, in, N, K, 1, x, nullptr, nullptr, nullptr, 1.f, nullptr, nullptr, nullptr, nullptr, 0, 0, 0,
                                       nullptr, 0, 0, nullptr);
        };
    };
    auto swiglu = [&](int W, int ks, int streamed) {
        return [=, &next]() {
            int l = next();
            int pairs = I, perBlock = W / ks;
            dim3 grid((pairs + perBlock - 1) / perBlock, 1);
            auto k = ks == 4 ? gemv_swiglu_norm_bt1_ks4 : ks == 2 ? gemv_swiglu_norm_bt1_ks2 : gemv_swiglu_norm_bt1;
            k<<<grid, 32 * W, 0, st>>>(wgu + guW * l, x, 2 * I, H, 1, nullptr, act, nullptr, nullptr, 1.f, nullptr, nullptr, nullptr, nullptr, 0, 0, 0,
                                       nullptr, 0, 0, nullptr, nw, nullptr, 1e-6f, streamed);
        };
    };
    auto readOf = [&](__nv_bfloat16* base, size_t per, int blocksPerSm, int threads) {
        return [=, &next]() {
            int l = next();
            read_bandwidth<<<132 * blocksPerSm, threads, 0, st>>>(reinterpret_cast<const uint4*>(base + per * l), (long long)(per / 8), red);
        };
    };
    auto report = [&](const char* name, double bytes, const std::function<void()>& f) {
        float us = graphMicros(f, 56);
        printf("%-40s %8.2f us  %6.2f TB/s\n", name, us, bytes / us / 1e6);
    };
    printf("-- one kernel repeated 56 times in a graph, distinct weights each launch --\n");
    report("read qkv bytes grid 4xSM block 512", 2.0 * qkvW, readOf(wq, qkvW, 4, 512));
    report("read o bytes grid 4xSM block 512", 2.0 * oW, readOf(wo, oW, 4, 512));
    report("read down bytes grid 4xSM block 512", 2.0 * dW, readOf(wd, dW, 4, 512));
    for (int st : {0, 1}) for (int W : {4, 8}) for (int ks : {1, 2, 4}) {
        char n[64]; snprintf(n, 64, "qkv_norm W%d ks%d %s", W, ks, st ? "streamed" : "block"); report(n, 2.0 * qkvW, qkvNorm(W, ks, st));
    }
    for (int W : {4, 8}) for (int ks : {1, 2, 4}) {
        char n[64]; snprintf(n, 64, "o residual W%d ks%d", W, ks); report(n, 2.0 * oW, resid(wo, oW, H, H, x + 0, W, ks));
    }
    for (int ks : {1, 4}) {
        char n[64]; snprintf(n, 64, "down residual W8 ks%d", ks); report(n, 2.0 * dW, resid(wd, dW, H, I, act, 8, ks));
    }
    for (int st : {0, 1}) for (int ks : {1, 4}) {
        char n[64]; snprintf(n, 64, "gateup swiglu_norm W8 ks%d %s", ks, st ? "streamed" : "block"); report(n, 2.0 * guW, swiglu(8, ks, st));
    }
    report("read gateup bytes grid 4xSM block 512", 2.0 * guW, readOf(wgu, guW, 4, 512));
    printf("-- the layer chain (qkv, o, gate/up, down) x 28, engine launch shapes --\n");
    double layerBytes = 2.0 * (qkvW + oW + guW + dW);
    for (int st : {0, 1}) {
        auto chain = [&]() {
            qkvNorm(4, 4, st)(); resid(wo, oW, H, H, q, 8, 4)(); swiglu(8, 4, st)(); resid(wd, dW, H, I, act, 8, 4)();
        };
        float us = graphMicros(chain, 28);
        printf("%-40s %8.2f us a layer  %6.2f TB/s\n", st ? "chain, streamed norm" : "chain, block norm", us, layerBytes / us / 1e6);
    }
    float us;
    auto readChain = [&]() { readOf(wq, qkvW, 4, 512)(); readOf(wo, oW, 4, 512)(); readOf(wgu, guW, 4, 512)(); readOf(wd, dW, 4, 512)(); };
    us = graphMicros(readChain, 28);
    printf("%-40s %8.2f us a layer  %6.2f TB/s\n", "read chain", us, layerBytes / us / 1e6);
    CK(cudaDeviceSynchronize());
    return 0;
}

// device_info.cu: a trivial self-test kernel.
// Computes out[i] = a * x[i] + i for i < n; one thread per element, 1-D grid of 256-thread blocks.
// It exists so the build hook, the fatbin resource and module loading can be checked end to end
// before any model kernel runs. CPU counterpart: qwenchat.engine.cuda.KernelSelfTest#expected.
extern "C" __global__ void selftest_axpy(const float* __restrict__ x, float* __restrict__ out, float a, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a * x[i] + (float)i;
}

// token_mask.cu: constrained decoding (structured output, forced tool calls). For one row of
// logits, every id whose bit is clear in `allowed` (bit id%32 of word id/32) becomes -inf, before
// the argmax, top-k and penalty kernels read the row, so nothing outside the grammar can be
// sampled. Launch: grid = ceil(vocab / 256), block = 256, one thread per id. CPU counterpart:
// Sampler.masked.
#include "common.cuh"

extern "C" __global__ void mask_logits(float* __restrict__ logits, const unsigned* __restrict__ allowed, int vocab) {
    int id = blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= vocab) return;
    if (((allowed[id >> 5] >> (id & 31)) & 1u) == 0u) logits[id] = -INFINITY;
}

// token_mask.cu: constrained decoding (structured output, forced tool calls). Every id whose bit is
// clear in its row's allowed set (bit id%32 of word id/32) gets a -inf logit, before the argmax,
// top-k and penalty kernels read the row, so nothing outside the grammar can be sampled. One launch
// covers every masked row of a pass (up to a whole decode batch): blockIdx.y is the j-th masked row,
// rows[j] says which logits row that is, and allowed holds `words` words per masked row, so rows
// without a mask cost nothing. Launch: grid = (ceil(vocab / 256), masked rows), block = 256.
// CPU counterpart: Sampler.masked.
#include "common.cuh"

extern "C" __global__ void mask_logits(float* __restrict__ logits, const unsigned* __restrict__ allowed,
                                       const int* __restrict__ rows, int vocab, int words) {
    int id = blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= vocab) return;
    const unsigned* bits = allowed + (size_t)blockIdx.y * words;
    if (((bits[id >> 5] >> (id & 31)) & 1u) == 0u) logits[(size_t)rows[blockIdx.y] * vocab + id] = -INFINITY;
}

// embedding.cu: row lookup of the token embedding.
// x[r][:] = float(E[tokens[r]][:]) for r < rows; E is bf16 [vocab][hidden], x is f32 [rows][hidden]
// (the residual stream). Launch: grid = rows, block = 256, each thread strides over the hidden
// dimension. Token ids are validated on the host before upload. CPU counterpart: the embedding
// row read at the start of Qwen2Forward#run (Bf16Matrix#readRow of model.embed_tokens.weight).
#include "common.cuh"

extern "C" __global__ void embed_rows(const int* __restrict__ tokens, const __nv_bfloat16* __restrict__ E,
                                      float* __restrict__ x, int hidden) {
    int r = blockIdx.x;
    const __nv_bfloat16* row = E + (size_t)tokens[r] * hidden;
    float* out = x + (size_t)r * hidden;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) out[i] = __bfloat162float(row[i]);
}

// embedding.cu: row lookup of the token embedding.
// x[r][:] = float(E[tokens[r]][:]) for r < rows; E is bf16 [vocab][hidden], x is f32 [rows][hidden]
// (the residual stream). Launch: grid = (rows, ceil(hidden / (8 * 128))), block = 128; each thread
// converts one 16-byte word (8 bf16) of its row with a single load, so the copy is one memory round
// trip instead of a thread's serial walk over the row. Where hidden is not a multiple of 8 the rows
// are not 16-byte aligned and each thread copies its 8 elements one by one. Token ids are validated on the host before upload.
// CPU counterpart: the embedding row read at the start of Qwen2Forward#run (Bf16Matrix#readRow of
// model.embed_tokens.weight).
#include "common.cuh"

extern "C" __global__ void embed_rows(const int* __restrict__ tokens, const __nv_bfloat16* __restrict__ E,
                                      float* __restrict__ x, int hidden) {
    int r = blockIdx.x;
    int i = 8 * (blockIdx.y * blockDim.x + threadIdx.x);
    if (i >= hidden) return;
    const __nv_bfloat16* row = E + (size_t)__ldg(tokens + r) * hidden;
    float* out = x + (size_t)r * hidden;
    if ((hidden & 7) == 0) {
        float f[8];
        qc::unpack8(__ldg(reinterpret_cast<const uint4*>(row + i)), f);
        reinterpret_cast<float4*>(out + i)[0] = make_float4(f[0], f[1], f[2], f[3]);
        reinterpret_cast<float4*>(out + i)[1] = make_float4(f[4], f[5], f[6], f[7]);
    } else {
        for (int j = i; j < min(i + 8, hidden); j++) out[j] = __bfloat162float(row[j]);
    }
}

// prefill_causal_block.cuh: which query rows and keys one block of a causal prefill attention kernel
// covers (prefill_attention.cu, prefill_attention_sm90.cu), so every tile walks the grid alike.
// Query blocks are walked from the last (longest) to the first; with headsFastest the heads are on
// grid.x, which the block scheduler walks first, so every head's block of one height goes before any
// shorter block and the launch ends on the shortest ones. Keys run up to the block's last query row
// (causal), never past the cache fill.
#pragma once

namespace prefill_causal {

struct Block {
    int head;      // query head
    int kvHead;    // its KV head
    int q0;        // first query row (new-token index) of the block
    int kvLen;     // keys in the cache: past + T
    int kvBlocks;  // BKV-key tiles the block visits
};

template <int BQ, int BKV>
static __device__ __forceinline__ Block block(int T, int past, int qHeads, int kvHeads, int headsFastest) {
    const int qBlock = headsFastest ? gridDim.y - 1 - blockIdx.y : gridDim.x - 1 - blockIdx.x;
    const int head = headsFastest ? blockIdx.x : blockIdx.y;
    const int q0 = qBlock * BQ;
    const int keyEnd = past + min(q0 + BQ, T);
    return Block{head, head / (qHeads / kvHeads), q0, past + T, (keyEnd + BKV - 1) / BKV};
}

}  // namespace prefill_causal

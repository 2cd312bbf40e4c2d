package qwenchat.engine.cpu;

/** One decoder layer's weights; matrices are {@code [out][in]}, read in place. */
record LayerWeights(
        float[] inputNorm,   // [hidden]
        Bf16Matrix q,        // [qDim][hidden]
        float[] qBias,       // [qDim]
        Bf16Matrix k,        // [kvDim][hidden]
        float[] kBias,       // [kvDim]
        Bf16Matrix v,        // [kvDim][hidden]
        float[] vBias,       // [kvDim]
        Bf16Matrix o,        // [hidden][qDim], no bias in Qwen2
        float[] postNorm,    // [hidden]
        Bf16Matrix gate,     // [intermediate][hidden]
        Bf16Matrix up,       // [intermediate][hidden]
        Bf16Matrix down) {   // [hidden][intermediate]
}

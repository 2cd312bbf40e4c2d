// limits.cuh: sizes the host code and the kernels must agree on. Each constant here has a Java twin
// of the same name in qwenchat.engine.KernelLimits, and KernelSourcesTest fails the build when a
// value differs or either side has a name the other lacks.
//
// The header is written by hand and checked rather than generated from the Java class: nvcc
// compiles these sources directly (build-kernels.sh, and the stand-alone harnesses in
// tools/gpu/kernel-harness), and the fatbin cache keys on the source text, so the sources must be
// complete without a Java step running first.
//
// Format the test relies on: one "constexpr int NAME = <decimal>;" per line, names in UPPER_CASE.
#pragma once

namespace limits {

// Most alternatives (top logprobs) reported per sampled token; logits_topk keeps this many ids per row.
constexpr int MAX_TOP_LOGPROBS = 20;

// Tokens per flash-decoding split of attn_partial: short serial loops, and many blocks even at batch 1.
constexpr int ATTN_SPLIT = 64;

// Largest query-head group (query heads per KV head) the decode attention supports.
constexpr int ATTN_MAX_GROUP = 16;

// Bits of a bias-lab mask row (qwenchat.engine.BiasMask): which q/k/v biases a QKV epilogue skips.
constexpr int BIAS_Q = 1;
constexpr int BIAS_K = 2;
constexpr int BIAS_V = 4;

}  // namespace limits

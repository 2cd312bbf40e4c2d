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

}  // namespace limits

#!/usr/bin/env bash
# Build hook called by Maven (generate-resources): compiles every kernel in SRC_DIR into one fatbin
# at OUT_DIR/qwen.fatbin, for Ampere, Ada and Hopper machine code plus compute_90 PTX so newer GPUs
# can JIT it. Hopper code is built as sm_90a (runs on compute capability 9.0 only) because the wgmma
# prefill GEMMs (prefill_gemm_sm90.cu) need the arch-specific instructions; under the compute_90 PTX
# those kernels trap, so hosts other than cc 9.0 must use the mma.sync kernels. Without nvcc the build still passes and OUT_DIR/kernels.properties says so, which is
# how the running app tells "no kernels in this jar" apart from a broken build.
set -euo pipefail
src_dir=$1
out_dir=$2
mkdir -p "$out_dir"
props="$out_dir/kernels.properties"
if ! command -v nvcc >/dev/null 2>&1; then
  rm -f "$out_dir/qwen.fatbin" "$out_dir/.sources.sha"
  printf 'available=false\nreason=nvcc was not on the PATH when this jar was built\n' >"$props"
  echo "[kernels] nvcc not found: building without CUDA kernels"
  exit 0
fi
shopt -s nullglob
sources=("$src_dir"/*.cu)
if [ ${#sources[@]} -eq 0 ]; then
  rm -f "$out_dir/qwen.fatbin" "$out_dir/.sources.sha"
  printf 'available=false\nreason=no kernel sources in src/main/cuda\n' >"$props"
  exit 0
fi
stamp="$out_dir/.sources.sha"
sum=$( (cat "${sources[@]}" "$src_dir"/*.cuh "$0" 2>/dev/null; nvcc --version | tail -1) | sha256sum | cut -d' ' -f1)
if [ -f "$out_dir/qwen.fatbin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
  echo "[kernels] up to date"
  exit 0
fi
names=$(for s in "${sources[@]}"; do basename "$s" .cu; done | paste -sd, -)
write_props() {
  printf 'available=true\nnvcc=%s\nsources=%s\n' "$(nvcc --version | tail -1)" "$names" >"$props"
  echo "$sum" >"$stamp"
}
# A clean build or a second clone reuses a fatbin compiled from the same sources by the same nvcc:
# compiling takes minutes and the result depends only on what the hash covers.
cache_dir=${QWEN_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qwen-chat/kernels}
cached="$cache_dir/$sum.fatbin"
if [ -s "$cached" ]; then
  cp "$cached" "$out_dir/qwen.fatbin"
  write_props
  echo "[kernels] reused $cached"
  exit 0
fi
# One translation unit that includes every kernel file: a single module for cuModuleLoadData.
unit="$out_dir/all_kernels.cu"
{
  for s in "${sources[@]}"; do printf '#include "%s"\n' "$s"; done
} >"$unit"
echo "[kernels] nvcc $(nvcc --version | tail -1) compiling ${#sources[@]} file(s)"
nvcc -fatbin -O3 -std=c++17 -I"$src_dir" \
  -gencode arch=compute_80,code=sm_80 \
  -gencode arch=compute_86,code=sm_86 \
  -gencode arch=compute_89,code=sm_89 \
  -gencode arch=compute_90a,code=sm_90a \
  -gencode arch=compute_90,code=compute_90 \
  -o "$out_dir/qwen.fatbin" "$unit"
rm -f "$unit"
write_props
# Publish into the cache by rename so a concurrent build never reads half a file.
if mkdir -p "$cache_dir" 2>/dev/null && cp "$out_dir/qwen.fatbin" "$cached.tmp.$$" 2>/dev/null; then
  mv -f "$cached.tmp.$$" "$cached"
fi

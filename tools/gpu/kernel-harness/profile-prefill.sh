#!/bin/bash
# Runs on the GPU machine from the repository root:
#   [PROFILE="attention_pp gateup_bn288 peers"] bash tools/gpu/kernel-harness/profile-prefill.sh
# Times the 8K prompt's big kernels alone (prefill_profile.cu; its *_tma cases are the GEMMs with TMA
# stages from tma_gemm_sm90.cuh, bit-compared with the engine's) beside the peer's cuBLAS and SDPA
# kernels (peer_kernels.py), runs tensormap_probe.cu (tensormap.txt: whether tensor maps built on the
# device load what the driver's do), dumps the engine's attention and gate/up SASS, then reads the hardware
# counters of the cases PROFILE names (its names are prefill_profile.cu's cases; default: the engine's
# attention and gate/up; "peers" adds SDPA and cuBLAS's gate/up) with Nsight Compute, one launch each,
# clocks left alone. Writes times.txt and profile.tgz (ncu raw metrics as CSV, details pages, SASS
# with stall samples) to $OUT.
# To time a previous attention kernel beside the current one (the harness checks every output bit of
# one against the other), make tools/gpu/kernel-harness/old_attention_sm90.cu here, untracked:
#   git show REV:src/main/cuda/prefill_attention_sm90.cu | sed 's/namespace prefill_attn_sm90/&_old/;
#     s/prefill_attn_sm90::/prefill_attn_sm90_old::/g; s/prefill_attention_causal_hd128_wgmma/old_&/g;
#     s/PREFILL_ATTN_SM90_/OLD_&/g' > tools/gpu/kernel-harness/old_attention_sm90.cu
set -x
out=${OUT:-/tmp/profile-out}
work=/tmp/profile-work
mkdir -p "$out" "$work"
h=tools/gpu/kernel-harness
{
  uname -r
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit --format=csv
  ncu --version | tail -1
} >"$work/info.txt" 2>&1
old=()
[ -f $h/old_attention_sm90.cu ] && old=(-DQC_OLD_ATTENTION -I$h)
nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -Isrc/main/cuda "${old[@]}" -Xptxas -v -o "$work/prefill_profile" \
  $h/prefill_profile.cu >"$work/nvcc.txt" 2>&1 || { cat "$work/nvcc.txt"; exit 1; }
for f in prefill_attention_causal_hd128_wgmma_pp prefill_gemm_wgmma_ws_swiglu_bn288; do
  cuobjdump --dump-sass -fun "$f" "$work/prefill_profile" >"$work/$f.sass" 2>&1
  grep -n "DEPBAR\|MUFU.EX2\|HGMMA\|TRYWAIT\|LDGSTS\|BAR.SYNC\|BAR.ARV" "$work/$f.sass" >"$work/$f.marks.txt"
done
if nvcc -O2 -std=c++17 -gencode arch=compute_90a,code=sm_90a -Isrc/main/cuda -o "$work/tensormap_probe" \
    $h/tensormap_probe.cu >"$work/nvcc_probe.txt" 2>&1; then
  for v in "" 0 1 2 3; do timeout 20 "$work/tensormap_probe" $v; echo "exit $?"; done 2>&1 | tee "$out/tensormap.txt"
fi
{
  timeout 300 "$work/prefill_profile" --reps 20  # a hung kernel must not take the call with it
  python3 $h/peer_kernels.py --reps 20
} 2>&1 | tee "$out/times.txt"

profile() {  # name, kernel regex, command...
  local name=$1 regex=$2
  shift 2
  timeout 120 ncu --clock-control none --set full --import-source yes -k "regex:$regex" -c 1 -f -o "$work/$name" "$@" \
    >"$work/$name.ncu.log" 2>&1 || return 0
  ncu --import "$work/$name.ncu-rep" --page raw --csv >"$work/$name.raw.csv" 2>&1
  ncu --import "$work/$name.ncu-rep" --page details >"$work/$name.details.txt" 2>&1
  ncu --import "$work/$name.ncu-rep" --page source --csv --print-source sass >"$work/$name.source.csv" 2>&1
  rm -f "$work/$name.ncu-rep"
}
for p in ${PROFILE:-attention_pp gateup_bn288}; do
  case $p in
    peers)
      profile sdpa 'flash|fmha|attn|sdpa|cudnn' python3 $h/peer_kernels.py --reps 1 --only sdpa
      profile cublas_gateup 'gemm|nvjet|sm90|cutlass' python3 $h/peer_kernels.py --reps 1 --only cublas_gateup ;;
    attention_*) profile "$p" 'attn|attention' "$work/prefill_profile" --reps 1 --only "$p" ;;
    *_tma) profile "$p" '^prefill_gemm_tma' "$work/prefill_profile" --reps 1 --only "$p" ;;  # its engine twin runs first
    *) profile "$p" '^prefill_gemm' "$work/prefill_profile" --reps 1 --only "$p" ;;
  esac
done
rm -f "$work/prefill_profile" "$work/tensormap_probe"
tar czf "$out/profile.tgz" -C "$work" .
ls -la "$work" "$out"

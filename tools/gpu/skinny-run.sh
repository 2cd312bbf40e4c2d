#!/usr/bin/env bash
# run-gpu-checks.sh's stages in one GPU call, ordered for the skinny-GEMM route: parity and the
# benchmark first (they decide whether the route stays on), then the gpu-tagged JUnit tests; every
# stage writes its logs under $OUT.
set -x
export PYTHONUNBUFFERED=1
here=$(cd "$(dirname "$0")" && pwd)
start=$(date +%s)
bash "$here/run-gpu-checks.sh" run 7b; echo "[skinny-run] 7b rc=$? at $(( $(date +%s) - start )) s"
bash "$here/run-gpu-checks.sh" run bench; echo "[skinny-run] bench rc=$? at $(( $(date +%s) - start )) s"
bash "$here/run-gpu-checks.sh" run tests; echo "[skinny-run] tests rc=$? at $(( $(date +%s) - start )) s"

#!/bin/bash
# Runs on the GPU machine from the repository root (once this is on main, the run tool's command is
#   bash tools/gpu/kernel-harness/run-prefill-checks.sh
# ): builds the prefill harness and the project fatbin, checks the fatbin through the driver API,
# runs the full harness (warp-specialized wgmma variants in a second process, so a hang in them
# cannot cost the other results), then memcheck and racecheck on small cases. Logs go to $OUT.
set -x
out=${OUT:-/tmp/prefill-out}
mkdir -p "$out"
h=tools/gpu/kernel-harness
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw --format=csv
nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -Isrc/main/cuda -o /tmp/prefill_harness $h/prefill_harness.cu &
bash src/main/cuda/build-kernels.sh "$PWD/src/main/cuda" /tmp/kb > /tmp/kb.log 2>&1 &
nvcc -O2 -std=c++17 -o /tmp/fatbin_check $h/fatbin_check.cu -lcuda &
wait
echo "harness HGMMA instructions: $(cuobjdump --dump-sass /tmp/prefill_harness | grep -c HGMMA)"
timeout 30 /tmp/fatbin_check /tmp/kb/qwen.fatbin 2>&1 | tee "$out/fatbin.txt"
timeout 150 /tmp/prefill_harness --skip _ws_ 2>&1 | tee "$out/harness.txt"
timeout 60 /tmp/prefill_harness --only _ws_ 2>&1 | tee "$out/harness_ws.txt"
timeout 90 compute-sanitizer --tool memcheck /tmp/prefill_harness --small > /tmp/mc.txt 2>&1
tail -40 /tmp/mc.txt | tee "$out/memcheck.txt"
timeout 60 compute-sanitizer --tool racecheck /tmp/prefill_harness --small --only attention > /tmp/rc.txt 2>&1
tail -12 /tmp/rc.txt | tee "$out/racecheck.txt"

#!/usr/bin/env bash
# GPU checks for the CUDA engine, in two halves.
#
# Here (no GPU):  tools/gpu/run-gpu-checks.sh prepare
#   builds the jar and test classes, a jlinked JRE and a thin classpath (the GPU machine has no
#   Java or Maven) into DEST (default <repo>/.device/cuda; .device/ is git-ignored; a second staging
#   area next to it, e.g. DEST=<repo>/.device/cuda2, keeps two builds apart), about 55 MB with the whole app,
#   and prints the `run` tool command to use. Maven resolves what it lacks online; OFFLINE=1 runs it
#   with -o where the local repository already holds every plugin and dependency.
# There (GPU machine, repo root):  bash .device/cuda/run-gpu-checks.sh run [STAGES]
#   STAGES is a comma list of: probe (the batch-1 GEMVs timed inside CUDA graphs by gemv_probe, compiled
#   here by prepare), tests (gpu-tagged JUnit tests), 7b (random 7B checkpoint, transformers
#   reference, our engine's parity), bench (our benchmark), peer (transformers on the same weights),
#   graphpeer (a CUDA-graph PyTorch decode loop on the same weights, tools/gpu/bench_graph_peer.py),
#   batch1 (bench --batch1 alone: the table's batch-1 rows, the card's floor and the one-sequence
#   variants of GpuBenchCommand.BATCH1_TRACED_CHOICES; it, bench and trace build the random 7B
#   without its references when the 7b stage has not),
#   trace (the same under a CUPTI kernel tracer, tools/gpu/kernel-trace: where a decode graph's replay
#   spends its time, kernel by kernel, in trace.txt),
#   blocks (decode attention at 8K through block tables of 16..128 tokens), yarn (the 7B with YaRN x4:
#   a prompt filling the 128K context), server (the whole app with the CUDA engine on a random 7B laid out
#   like Qwen2.5-7B-Instruct; load-test over HTTP with 1/16/64/256 clients and over the WebSocket with 64,
#   then the long-prompt-among-streams scenario (at the default max-batched-tokens, then 1536 and 2048) and the
#   next-turn scenario; server.md and server_*.json). The comparison table (table.md) has a column per peer run.
#   Default: probe,tests,7b,bench,peer,graphpeer. Everything goes to $OUT; PACK=1 packs it into
#   $OUT/logs.tgz at the end (the device tool brings back only a few files).
set -euo pipefail
mode=${1:-prepare}

if [ "$mode" = prepare ]; then
  repo=$(cd "$(dirname "$0")/../.." && pwd)
  dest=${DEST:-$repo/.device/cuda}
  cd "$repo"
  mvn=(./mvnw -B -q -ntp)
  [ "${OFFLINE:-0}" = 1 ] && mvn+=(-o)
  echo "[prepare] building jar and test classes in $repo"
  "${mvn[@]}" package -DskipTests
  "${mvn[@]}" test-compile dependency:build-classpath -Dmdep.outputFile=target/test-cp.txt -Dmdep.includeScope=test >/dev/null
  # Modules from jdeps on our classes and every jar the app loads (jdeps --print-module-deps
  # --recursive): the thin test run needs only the first four, the whole app (the server stage) the rest;
  # java.net.http is load-test's client. java.xml comes with java.desktop and java.sql, spelled out here.
  modules=java.base,java.logging,java.management,jdk.unsupported,java.compiler,java.desktop,java.instrument
  modules+=,java.naming,java.net.http,java.prefs,java.scripting,java.security.jgss,java.sql,java.xml,jdk.jfr
  modules+=,jdk.management
  # KEEP_JRE=1 reuses a JRE packed by an earlier prepare with the same modules (jlink + xz take a minute
  # and a half).
  if [ "${KEEP_JRE:-0}" = 1 ] && [ -f "$dest/jre.tar.xz" ] && [ "$(cat "$dest/jre.modules" 2>/dev/null)" = "$modules" ]; then
    mv "$dest/jre.tar.xz" /tmp/qwen-jre.tar.xz
  fi
  rm -rf "$dest"
  mkdir -p "$dest/lib"
  if [ -f /tmp/qwen-jre.tar.xz ] && [ "${KEEP_JRE:-0}" = 1 ]; then
    mv /tmp/qwen-jre.tar.xz "$dest/jre.tar.xz"
    echo "$modules" >"$dest/jre.modules"
  fi
  # Thin classpath: our classes (with the fatbin), the tests, and only the jars they load. The
  # Spring Boot fat jar plus a JRE would not fit the 64 MiB transfer.
  cp -r target/classes "$dest/classes"
  cp -r target/test-classes "$dest/test-classes"
  tr ':' '\n' <target/test-cp.txt | grep -E '/(jcuda-12|jackson-databind-3|jackson-core-3|jackson-annotations-2|assertj-core-3)[^/]*\.jar$' \
    | xargs -I{} cp {} "$dest/lib/"
  # Only the driver-API natives: the CUDA 12 library bindings (cuBLAS, cuFFT...) are dead weight here.
  natives=$(tr ':' '\n' <target/test-cp.txt | grep 'jcuda-natives-.*linux-x86_64.jar$')
  tmp=$(mktemp -d)
  (cd "$tmp" && unzip -q "$natives" && zip -q -r "$dest/lib/jcuda-natives-driver.jar" META-INF \
      $(find . -name '*JCudaDriver*' -o -name '*JCudaRuntime*' | sed 's|^\./||'))
  rm -rf "$tmp"
  # The console launcher runs the tests there; it matches the JUnit platform the tests compile against.
  platform=$(tr ':' '\n' <target/test-cp.txt | sed -n 's|.*/junit-platform-engine-\([^/]*\)\.jar$|\1|p' | head -1)
  console_dir=~/.m2/repository/org/junit/platform/junit-platform-console-standalone/$platform
  if [ ! -f "$console_dir/junit-platform-console-standalone-$platform.jar" ]; then
    "${mvn[@]}" dependency:get -Dartifact="org.junit.platform:junit-platform-console-standalone:$platform" >/dev/null
  fi
  console=$console_dir/junit-platform-console-standalone-$platform.jar
  [ -f "$console" ] || { echo "junit-platform-console-standalone $platform missing (OFFLINE=1 cannot fetch it)"; exit 1; }
  cp "$console" "$dest/lib/"
  # The whole app for the server stage: the fat jar's runtime jars, less those lib/ has already (jcuda,
  # jackson 3) and the jcuda natives of every CUDA library (lib/ keeps the driver's). Jars are deflated,
  # which leaves xz nothing to find; stored again uncompressed (zip -0), one xz stream over all of them
  # packs 34 MB of jars into about 13. classes/qwen2.5 stays whole: its tokenizer and config files go
  # into the server's checkpoint.
  app=$(mktemp -d)
  (cd "$app" && unzip -q "$repo/target/qwen-chat.jar" 'BOOT-INF/lib/*')
  mkdir -p "$app/app-lib"
  for j in "$app"/BOOT-INF/lib/*.jar; do
    n=$(basename "$j")
    case $n in jcuda-natives-*) continue ;; esac
    [ -f "$dest/lib/$n" ] && continue
    x=$(mktemp -d)
    (cd "$x" && unzip -q "$j" && zip -q -0 -r -X "$app/app-lib/$n" .)
    rm -rf "$x"
  done
  tar -cf - -C "$app" app-lib | xz -9 -T2 >"$dest/app-lib.tar.xz"
  rm -rf "$app"
  # jlink comes from the JDK that ./mvnw builds with (JAVA_HOME, else a JDK >= 21 found as mvnw finds one).
  . .mvn/select-jdk.sh
  jdk=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
  # The stripped JRE travels as .tar.xz. Its modules image is left uncompressed for xz to pack: with the
  # full app's modules that is 21 MB, against 36 MB for a zip-9 image that xz can no longer shrink.
  if [ ! -f "$dest/jre.tar.xz" ]; then
  jre=$(mktemp -d)
  "$jdk/bin/jlink" --add-modules "$modules" \
    --strip-debug --no-header-files --no-man-pages --output "$jre/jre"
  strip --strip-unneeded "$jre/jre/lib/server/libjvm.so"
  tar -cJf "$dest/jre.tar.xz" -C "$jre" jre
  echo "$modules" >"$dest/jre.modules"
  rm -rf "$jre"
  fi
  for f in tools/gpu/run-gpu-checks.sh tools/gpu/skinny-run.sh tools/reference/make_7b_reference.py \
      tools/gpu/make_7b_server_checkpoint.py tools/gpu/bench_transformers.py tools/gpu/bench_graph_peer.py; do
    [ -f "$f" ] && cp "$f" "$dest/"
  done
  # The GEMV probe is C++ against the kernel sources: compiled here, as the GPU machine has no nvcc.
  if command -v nvcc >/dev/null 2>&1; then
    nvcc -O3 -std=c++17 -Isrc/main/cuda -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
      tools/gpu/gemv_probe.cu -o "$dest/gemv_probe"
  fi
  # The kernel tracer (the trace stage): a CUPTI injection library, with the CUPTI it was built against.
  cuda=${CUDA_HOME:-/usr/local/cuda}
  cupti=$(ls "$cuda"/lib64/libcupti.so.* "$cuda"/lib/libcupti.so.* "$cuda"/extras/CUPTI/lib64/libcupti.so.* 2>/dev/null \
    | grep -E 'libcupti\.so\.[0-9]+$' | head -1 || true)
  if [ -n "$cupti" ]; then
    mkdir -p "$dest/trace"
    cp "$cupti" "$dest/trace/"
    g++ -O2 -shared -fPIC -std=c++17 -static-libstdc++ -static-libgcc -I"$cuda/include" -I"$cuda/extras/CUPTI/include" \
      tools/gpu/kernel-trace/kernel_trace.cpp -L"$(dirname "$cupti")" -l:"$(basename "$cupti")" -Wl,-rpath,'$ORIGIN' \
      -o "$dest/trace/libkernel_trace.so"
    cp tools/gpu/kernel-trace/summarize.py "$dest/trace/"
  fi
  # Classes and test classes travel packed: the fatbin and the tokenizer squeeze well, and unpacked they
  # would push the staging plus the tracked tree past the 64 MiB transfer. `run` unpacks them first.
  tar -cJf "$dest/classes.tar.xz" -C "$dest" classes test-classes && rm -rf "$dest/classes" "$dest/test-classes"
  { du -sh "$dest"; du -sh "$dest"/*; } | sed 's/^/[prepare] /'  # one du each: du counts a folder once
  echo "[prepare] now call the run tool with:"
  area=$(realpath --relative-to="$repo" "$dest")
  echo "  carry: [\"$area\"], timeout_s: 540,"
  echo "  command: PACK=1 bash $area/run-gpu-checks.sh run probe,tests,7b,bench,peer,graphpeer"
  echo "  or, for the whole server (about 5 minutes on an H100: four app starts, each ready in seconds):"
  echo "  command: bash $area/run-gpu-checks.sh run server"
  exit 0
fi

# ---- run (GPU machine) ----
stages=${2:-probe,tests,7b,bench,peer,graphpeer}
here=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
# SCRATCH (default /tmp) takes the unpacked JRE and app jars; a JRE unpacked from an older staging with
# other modules is replaced.
scratch=${SCRATCH:-/tmp}
mkdir -p "$scratch"
if ! cmp -s "$here/jre.modules" "$scratch/jre/.modules"; then
  rm -rf "$scratch/jre" && tar -xJf "$here/jre.tar.xz" -C "$scratch" && cp "$here/jre.modules" "$scratch/jre/.modules"
fi
java=$scratch/jre/bin/java
[ -d "$here/classes" ] || tar -xJf "$here/classes.tar.xz" -C "$here"
cp="$here/classes:$here/test-classes:$(ls "$here"/lib/*.jar | grep -v console-standalone | paste -sd:)"
console=$(ls "$here"/lib/junit-platform-console-standalone-*.jar)
jvm=(-Xss4m -Xmx60g -XX:+UseParallelGC --enable-native-access=ALL-UNNAMED)
model=/tmp/qwen7b-random
has() { [[ ",$stages," == *",$1,"* ]]; }
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv 2>&1 | tee "$OUT/gpu.txt" || true
status=0
# The card's clocks, power and temperature four times a second through the whole run (clocks.csv),
# and every line of the logs stamped with the time, so a slow row can be matched with what the card
# was doing then: a memory-bound kernel still slows when the SM clock drops under load.
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu --format=csv \
  -lms 250 >"$OUT/clocks.csv" 2>&1 &
clocks_pid=$!
trap 'kill $clocks_pid 2>/dev/null || true' EXIT
stamp() { while IFS= read -r line; do printf '%s %s\n' "$(date +%H:%M:%S.%2N)" "$line"; done; }

if has probe; then
  echo "=== batch-1 GEMVs inside CUDA graphs (gemv_probe)"
  if [ -x "$here/gemv_probe" ]; then "$here/gemv_probe" 2>&1 | tee "$OUT/probe.txt" || status=1
  else echo "no gemv_probe in $here: prepare ran without nvcc" | tee "$OUT/probe.txt"; status=1; fi
fi

if has tests; then
  echo "=== gpu-tagged JUnit tests"
  # GPU_TESTS (a comma list of simple class names in qwenchat.engine.cuda) runs only those classes.
  select=(--select-package qwenchat)
  if [ -n "${GPU_TESTS:-}" ]; then
    select=()
    for t in ${GPU_TESTS//,/ }; do select+=(--select-class "qwenchat.engine.cuda.$t"); done
  fi
  "$java" "${jvm[@]}" -jar "$console" execute --class-path "$cp" --include-tag gpu --exclude-tag gpu7b \
    "${select[@]}" --details tree --disable-banner --disable-ansi-colors 2>&1 | tee "$OUT/tests.log" || status=1
fi

if has 7b; then
  echo "=== 7B-scale parity: random checkpoint with the Qwen2.5-7B config"
  python3 "$here/make_7b_reference.py" "$model" 2>&1 | tee "$OUT/make_7b.log" || status=1
  QWEN_7B_DIR=$model "$java" "${jvm[@]}" -jar "$console" execute --class-path "$cp" --include-tag gpu7b \
    --select-package qwenchat --details tree --disable-banner --disable-ansi-colors 2>&1 | tee "$OUT/parity_7b.log" || status=1
fi

# The random 7B without its transformers references, for the stages that only time it (bench, batch1,
# trace) when the 7b stage has not built it.
weights_only() {
  [ -f "$model/config.json" ] || CHECKPOINT_ONLY=1 python3 "$here/make_7b_reference.py" "$model" 2>&1 | tee "$OUT/make_7b.log" || status=1
}

if has bench; then
  echo "=== benchmark (ours)"
  weights_only
  # BENCH_ARGS: extra arguments, e.g. --served-shape for the served workload alone.
  "$java" "${jvm[@]}" -cp "$cp" qwenchat.cli.GpuBenchCommand --model "$model" ${BENCH_ARGS:-} --out "$OUT/bench.json" 2>&1 \
    | stamp | tee "$OUT/bench.log" || status=1
fi

if has batch1; then
  echo "=== batch 1 alone: the table's batch-1 rows, the floor, and the traced variants (bench --batch1)"
  weights_only
  "$java" "${jvm[@]}" -cp "$cp" qwenchat.cli.GpuBenchCommand --model "$model" --batch1 --out "$OUT/batch1.json" 2>&1 \
    | stamp | tee "$OUT/batch1.log" || status=1
fi

if has trace; then
  echo "=== batch-1 decode under the kernel tracer (tools/gpu/kernel-trace)"
  if [ -f "$here/trace/libkernel_trace.so" ]; then
    weights_only
    CUDA_INJECTION64_PATH=$here/trace/libkernel_trace.so KERNEL_TRACE_OUT=$scratch/kernel_trace.csv \
      "$java" "${jvm[@]}" -cp "$cp" qwenchat.cli.GpuBenchCommand --model "$model" --batch1 --out "$OUT/trace_bench.json" 2>&1 \
      | stamp | tee "$OUT/trace_bench.log" || status=1
    python3 "$here/trace/summarize.py" "$scratch/kernel_trace.csv" 2>&1 | tee "$OUT/trace.txt" || status=1
  else echo "no kernel tracer in $here: prepare found no CUPTI" | tee "$OUT/trace.txt"; status=1; fi
fi

if has peer; then
  echo "=== benchmark (transformers peer)"
  python3 "$here/bench_transformers.py" "$model" "$OUT/peer.json" 2>&1 | tee "$OUT/peer.log" || status=1
fi

if has blocks; then
  echo "=== KV block size: decode attention at 8K through shuffled block tables"
  "$java" "${jvm[@]}" -cp "$cp" qwenchat.cli.GpuBenchCommand --kv-block-sizes --out "$OUT/blocks.json" 2>&1 \
    | tee "$OUT/blocks.log" || status=1
fi

if has yarn; then
  echo "=== YaRN x4: 128K-token prompt on the 7B"
  "$java" "${jvm[@]}" -cp "$cp" qwenchat.cli.GpuBenchCommand --model "$model" --yarn-128k --out "$OUT/yarn.json" 2>&1 \
    | tee "$OUT/yarn.log" || status=1
fi

if has graphpeer; then
  echo "=== benchmark (CUDA-graph PyTorch peer)"
  python3 "$here/bench_graph_peer.py" "$model" "$OUT/graph_peer.json" 2>&1 | stamp | tee "$OUT/graph_peer.log" || status=1
fi

if has server; then
  echo "=== the whole server (HTTP, WebSocket, scheduler, CUDA engine) on a 7B laid out like Qwen2.5-7B-Instruct"
  # Run lengths: SERVER_SECONDS per load-test run, prompts of about SERVER_PROMPT_TOKENS tokens, replies of
  # at most SERVER_MAX_TOKENS (HTTP clients re-request at once and hang up at the deadline, so the decode
  # batch stays full until then; the WebSocket run's replies end by themselves, at SERVER_WS_MAX_TOKENS).
  # The long-prompt scenario sends SERVER_LONG_PROMPT_TOKENS among SERVER_LONG_CLIENTS streams at the
  # default max-batched-tokens, then again on a server restarted with each of SERVER_MBT_SWEEP; the
  # next-turn scenario's history is SERVER_HISTORY_TOKENS. The defaults keep the stage near 5 minutes on
  # an H100 (a restart is ready in about 5 s once the checkpoint is in the page cache).
  secs=${SERVER_SECONDS:-20} ptok=${SERVER_PROMPT_TOKENS:-1000} mtok=${SERVER_MAX_TOKENS:-1024}
  wsmtok=${SERVER_WS_MAX_TOKENS:-256} port=${SERVER_PORT:-8080}
  longtok=${SERVER_LONG_PROMPT_TOKENS:-32000} longc=${SERVER_LONG_CLIENTS:-16}
  histtok=${SERVER_HISTORY_TOKENS:-8000} sweep=${SERVER_MBT_SWEEP:-1536 2048}
  # SERVER_RUNS: which runs the first server start makes, by name (default all of them): http_c1,
  # http_c16, http_c64, http_c256, http_c16_greedy, http_c64_greedy, http_c256_greedy, ws_c64,
  # long_prompt, next_turn (space-separated); the sweeps' restarts follow either way.
  runs=${SERVER_RUNS:-http_c1 http_c16 http_c64 http_c256 http_c16_greedy http_c64_greedy http_c256_greedy ws_c64 long_prompt next_turn}
  want() { [[ " $runs " == *" $1 "* ]]; }
  # SERVER_MODEL_DIR (a checkpoint to serve instead, e.g. the demo one the tests write to
  # target/qwen-chat-demo-v1) and SERVER_ENGINE=cpu make a dry run of this stage without a GPU.
  server_model=${SERVER_MODEL_DIR:-/tmp/qwen7b-server}
  if [ -z "${SERVER_MODEL_DIR:-}" ]; then
    python3 "$here/make_7b_server_checkpoint.py" "$server_model" "$here/classes/qwen2.5" "$model" 2>&1 \
      | tee "$OUT/server_checkpoint.log" || status=1
  fi
  rm -rf "$scratch/app-lib" && tar -xJf "$here/app-lib.tar.xz" -C "$scratch"
  app_cp="$here/classes:$(ls "$here"/lib/*.jar "$scratch"/app-lib/*.jar | grep -v console-standalone | paste -sd:)"
  # start_server LOG [SETTINGS...]: the app in the background (server_pid), then waits for readiness,
  # printing each load stage as it begins (the probe's body names it while it answers 503).
  # All of a run's clients arrive at once: a wait queue longer than the largest run keeps them from 429s
  # (the default 64 is sized for a person's traffic, not a burst of 256).
  start_server() {
    local log=$1; shift
    QWEN_MODEL_DIR=$server_model "$java" "${jvm[@]}" -cp "$app_cp" qwenchat.QwenChatApplication \
      --qwen.engine="${SERVER_ENGINE:-cuda}" --server.port="$port" --qwen.queue-limit=512 \
      --qwen.data-dir="$scratch/qwen-data" "$@" >"$OUT/$log.log" 2>&1 &
    server_pid=$!
    python3 - "$port" "$server_pid" "${SERVER_LOAD_TIMEOUT:-420}" <<'PY' 2>&1 | tee "$OUT/${log}_load.txt"
import json, os, sys, time, urllib.error, urllib.request
port, pid, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
t0, last = time.time(), None
while time.time() - t0 < limit:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(f"server exited after {time.time() - t0:.1f}s: see its log")
    try:
        with urllib.request.urlopen(f"http://localhost:{port}/actuator/health/readiness", timeout=5) as r:
            body, code = r.read(), r.status
    except urllib.error.HTTPError as e:
        body, code = e.read(), e.code
    except OSError:
        body, code = b"{}", 0
    try:
        model = json.loads(body).get("components", {}).get("model", {}).get("details", {})
    except ValueError:
        model = {}
    stage = (model.get("state"), model.get("stage"))
    if code == 200:
        print(f"{time.time() - t0:6.1f}s ready (HTTP 200): {json.dumps(model)}", flush=True)
        sys.exit(0)
    if stage != last:
        print(f"{time.time() - t0:6.1f}s {model.get('state', 'starting')} {model.get('stage', '')} "
              f"{model.get('stageDescription', '')}", flush=True)
        last = stage
    time.sleep(0.5)
sys.exit(f"not ready after {limit:.0f}s")
PY
  }
  # Stop it as an operator would: SIGTERM, Spring's graceful shutdown; killed only if that hangs.
  stop_server() {
    local t_stop rc
    t_stop=$(date +%s)
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$server_pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$server_pid" 2>/dev/null; then
      echo "[server] still running 60 s after SIGTERM: killed"; kill -KILL "$server_pid"; status=1
    fi
    rc=0; wait "$server_pid" 2>/dev/null || rc=$?
    echo "[server] stopped (exit $rc; 143 is the SIGTERM itself) in $(( $(date +%s) - t_stop )) s"
  }
  lt() {
    local name=$1; shift
    "$java" -Xmx4g -cp "$app_cp" qwenchat.QwenChatApplication load-test --url "http://localhost:$port" "$@" \
      --json "$OUT/server_$name.json" 2>&1 | tee "$OUT/server_$name.log" || status=1
  }
  long_prompt() {
    lt "$1" --scenario long-prompt --clients "$longc" --prompt-tokens "$longtok" --max-tokens 8
  }
  if start_server server; then
    grep -E "ready:|KV|sequences of up to" "$OUT/server.log" | tail -4 | sed 's/^/[server] /' || true
    nvidia-smi --query-gpu=memory.used,memory.total --format=csv | tee "$OUT/server_gpu_memory.txt" || true
    # Warm-up, not reported: the first requests pay for JIT compilation and first kernel launches.
    lt warmup --clients 4 --duration 3 --max-tokens 16
    for c in 1 16 64 256; do
      want "http_c$c" || continue
      lt "http_c$c" --clients "$c" --duration "$secs" --prompt-tokens "$ptok" --max-tokens "$mtok" --cut-at-deadline
    done
    # The same clients greedy: bench decodes greedily (its served_shape rows run this workload), so these are the
    # served rows to hold against it.
    for c in 16 64 256; do
      want "http_c${c}_greedy" || continue
      lt "http_c${c}_greedy" --clients "$c" --duration "$secs" --prompt-tokens "$ptok" --max-tokens "$mtok" \
        --cut-at-deadline --temperature 0
    done
    if want ws_c64; then
      lt ws_c64 --websocket --clients 64 --duration "$secs" --prompt-tokens "$ptok" --max-tokens "$wsmtok"
    fi
    if want long_prompt; then long_prompt long_prompt_default; fi
    if want next_turn; then lt next_turn --scenario next-turn --prompt-tokens "$histtok" --max-tokens 32; fi
  else
    status=1
  fi
  stop_server
  # Scheduler settings are read at startup: one restart per value of the sweeps, the long prompt alone.
  # SERVER_BREAK_EVEN_SWEEP: values of qwen.scheduler.attention-break-even at the default max-batched-tokens
  # (0 is chunks costed by their tokens alone, as before the attention-aware sizing).
  # restarted LABEL SETTING: the server started again with SETTING for the long prompt alone.
  restarted() {
    if start_server "server_$1" "$2"; then
      long_prompt "long_prompt_$1"
    else
      status=1
    fi
    stop_server
  }
  for mbt in $sweep; do restarted "mbt$mbt" --qwen.scheduler.max-batched-tokens="$mbt"; done
  for be in ${SERVER_BREAK_EVEN_SWEEP:-0}; do restarted "be$be" --qwen.scheduler.attention-break-even="$be"; done
  python3 - "$OUT" <<'PY' | tee "$OUT/server.md"
import glob, json, os, sys
out = sys.argv[1]
def f(v, d=1):
    return "-" if v is None else f"{v:.{d}f}"
print("| run | clients | temperature | requests ok / failed | prompt tok | completion tok/s | steady decode tok/s "
      "| TTFT p50 / p99 ms | ITL p50 / p99 ms | TPOT p50 ms | errors |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for name in ["http_c1", "http_c16", "http_c64", "http_c256", "http_c16_greedy", "http_c64_greedy", "http_c256_greedy",
             "ws_c64"]:
    p = os.path.join(out, f"server_{name}.json")
    if not os.path.exists(p):
        print(f"| {name} | - | - | no result | | | | | | | |")
        continue
    r = json.load(open(p))
    t, i = r["ttftMs"], r["itlMs"]
    print(f"| {r['mode']} | {r['clients']} | {r.get('temperature', '-')} | {r['ok']} / {r['failed']} | {f(r['promptTokensMean'], 0)} "
          f"| {f(r['completionTokensPerSecond'])} | {f(r.get('steadyDecodeTokensPerSecond'))} "
          f"| {f(t['p50'])} / {f(t['p99'])} | {f(i['p50'])} / {f(i['p99'])} "
          f"| {f(r['tpotMs']['p50'])} | {r['failures'] or '-'} |")
print()
print("Long prompt among streams (targets: streams' ITL p99 <= 60 ms while it prefills, TTFT <= 1.25x alone):")
print()
print("| scheduler settings | streams | prompt tok | TTFT alone ms | TTFT among streams ms | ratio "
      "| ITL p50 / p99 / max ms while prefilling (n) |")
print("|---|---|---|---|---|---|---|")
def setting(p):
    label = os.path.basename(p)[len("server_long_prompt_"):-len(".json")]
    if label == "default":
        return (0, 0), "the app's defaults"
    if label.startswith("mbt"):
        return (0, int(label[3:])), f"max-batched-tokens {label[3:]}, the engine's break-even"
    return (1, int(label[2:])), f"the default max-batched-tokens, attention break-even {label[2:]}"
for key, label, p in sorted((setting(p)[0], setting(p)[1], p)
                            for p in glob.glob(os.path.join(out, "server_long_prompt_*.json"))):
    r = json.load(open(p))
    i = r["itlDuringPrefillMs"]
    print(f"| {label} | {r['clients']} | {r['promptTokens']} | {f(r['ttftAloneMs'])} "
          f"| {f(r['ttftAmongStreamsMs'])} | {f(r['ttftRatio'], 2)} | {f(i['p50'])} / {f(i['p99'])} / {f(i['max'])} "
          f"({i['n']}) |")
p = os.path.join(out, "server_next_turn.json")
if os.path.exists(p):
    r = json.load(open(p))
    print()
    print(f"Next turn of a {r['firstTurnPromptTokens']}-token conversation: TTFT {f(r['nextTurnTtftMs'])} ms "
          f"(target <= 30 ms), {r['nextTurnCachedTokens']} of {r['nextTurnPromptTokens']} prompt tokens cached; "
          f"first turn TTFT {f(r['firstTurnTtftMs'])} ms")
PY
  [ -s "$OUT/server.md" ] || status=1
fi

if [ -f "$OUT/bench.json" ]; then
  peers=()
  for p in "$OUT/peer.json" "$OUT/graph_peer.json"; do [ -f "$p" ] && peers+=("$p"); done
  if [ ${#peers[@]} -gt 0 ]; then
    "$java" -cp "$cp" qwenchat.cli.GpuBenchCommand --table "$OUT/bench.json" "${peers[@]}" | tee "$OUT/table.md"
  fi
fi
kill $clocks_pid 2>/dev/null || true
# PACK=1: everything in one archive, $OUT/logs.tgz, beside table.md and gpu.txt. The device tool
# brings back only a few files from $OUT, and a full run writes a dozen (a run once lost its tests.log).
if [ "${PACK:-0}" = 1 ]; then
  (cd "$OUT" && tar czf /tmp/qwen-logs.tgz --exclude=logs.tgz . && mv /tmp/qwen-logs.tgz logs.tgz \
    && find . -mindepth 1 -maxdepth 1 ! -name logs.tgz ! -name table.md ! -name gpu.txt -exec rm -rf {} +)
fi
exit $status

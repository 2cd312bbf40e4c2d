#!/usr/bin/env bash
# GPU checks for the CUDA engine, in two halves.
#
# Here (no GPU):  tools/gpu/run-gpu-checks.sh prepare
#   builds the jar and test classes, a jlinked JRE and a thin classpath (the GPU machine has no
#   Java or Maven) into DEST (default <repo>/.device/cuda; .device/ is git-ignored; a second staging
#   area next to it, e.g. DEST=<repo>/.device/cuda2, keeps two builds apart), under ~55 MB,
#   and prints the `run` tool command to use. Maven resolves what it lacks online; OFFLINE=1 runs it
#   with -o where the local repository already holds every plugin and dependency.
# There (GPU machine, repo root):  bash .device/cuda/run-gpu-checks.sh run [STAGES]
#   STAGES is a comma list of: tests (gpu-tagged JUnit tests), 7b (random 7B checkpoint, transformers
#   reference, our engine's parity), bench (our benchmark), peer (transformers on the same weights),
#   graphpeer (a CUDA-graph PyTorch decode loop on the same weights, tools/gpu/bench_graph_peer.py),
#   blocks (decode attention at 8K through block tables of 16..128 tokens), yarn (the 7B with YaRN x4:
#   a prompt filling the 128K context). The comparison table (table.md) has a column per peer run.
#   Default: tests,7b,bench,peer. Everything goes to $OUT.
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
  # KEEP_JRE=1 reuses a JRE packed by an earlier prepare (jlink + xz take a minute and a half).
  if [ "${KEEP_JRE:-0}" = 1 ] && [ -f "$dest/jre.tar.xz" ]; then mv "$dest/jre.tar.xz" /tmp/qwen-jre.tar.xz; fi
  rm -rf "$dest"
  mkdir -p "$dest/lib"
  if [ -f /tmp/qwen-jre.tar.xz ] && [ "${KEEP_JRE:-0}" = 1 ]; then mv /tmp/qwen-jre.tar.xz "$dest/jre.tar.xz"; fi
  # Thin classpath: our classes (with the fatbin), the tests, and only the jars they load. The
  # Spring Boot fat jar plus a JRE would not fit the 64 MiB transfer.
  cp -r target/classes "$dest/classes"
  cp -r target/test-classes "$dest/test-classes"
  tr ':' '\n' <target/test-cp.txt | grep -E '/(jcuda-12|jackson-databind-3|jackson-core-3|jackson-annotations-2)[^/]*\.jar$' \
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
  rm -f "$dest/classes/qwen2.5/tokenizer.json.gz"  # not used by the GPU checks
  # jlink comes from the JDK that ./mvnw builds with (JAVA_HOME, else a JDK >= 21 found as mvnw finds one).
  . .mvn/select-jdk.sh
  jdk=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
  # Modules from jdeps on our classes and the jars above (the thin run needs no Spring: the full app
  # needs java.desktop, java.naming, java.sql, java.xml and jdk.management as well). The stripped
  # JRE travels as .tar.xz, about 19 MB instead of 38.
  if [ ! -f "$dest/jre.tar.xz" ]; then
  jre=$(mktemp -d)
  "$jdk/bin/jlink" --add-modules java.base,java.logging,java.management,jdk.unsupported \
    --strip-debug --no-header-files --no-man-pages --compress zip-9 --output "$jre/jre"
  strip --strip-unneeded "$jre/jre/lib/server/libjvm.so"
  tar -cJf "$dest/jre.tar.xz" -C "$jre" jre
  rm -rf "$jre"
  fi
  for f in tools/gpu/run-gpu-checks.sh tools/gpu/skinny-run.sh tools/reference/make_7b_reference.py tools/gpu/bench_transformers.py tools/gpu/bench_graph_peer.py; do
    [ -f "$f" ] && cp "$f" "$dest/"
  done
  du -sh "$dest" "$dest"/* | sed 's/^/[prepare] /'
  echo "[prepare] now call the run tool with:"
  area=$(realpath --relative-to="$repo" "$dest")
  echo "  carry: [\"$area\"], timeout_s: 540,"
  echo "  command: bash $area/run-gpu-checks.sh run tests,7b,bench,peer,graphpeer"
  exit 0
fi

# ---- run (GPU machine) ----
stages=${2:-tests,7b,bench,peer,graphpeer}
here=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
[ -x /tmp/jre/bin/java ] || tar -xJf "$here/jre.tar.xz" -C /tmp
java=/tmp/jre/bin/java
cp="$here/classes:$here/test-classes:$(ls "$here"/lib/*.jar | grep -v console-standalone | paste -sd:)"
console=$(ls "$here"/lib/junit-platform-console-standalone-*.jar)
jvm=(-Xss4m -Xmx60g -XX:+UseParallelGC)
model=/tmp/qwen7b-random
has() { [[ ",$stages," == *",$1,"* ]]; }
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv 2>&1 | tee "$OUT/gpu.txt" || true
status=0

if has tests; then
  echo "=== gpu-tagged JUnit tests"
  "$java" "${jvm[@]}" -jar "$console" execute --class-path "$cp" --include-tag gpu --exclude-tag gpu7b \
    --select-package qwenchat --details tree --disable-banner --disable-ansi-colors 2>&1 | tee "$OUT/tests.log" || status=1
fi

if has 7b; then
  echo "=== 7B-scale parity: random checkpoint with the Qwen2.5-7B config"
  python3 "$here/make_7b_reference.py" "$model" 2>&1 | tee "$OUT/make_7b.log" || status=1
  QWEN_7B_DIR=$model "$java" "${jvm[@]}" -jar "$console" execute --class-path "$cp" --include-tag gpu7b \
    --select-package qwenchat --details tree --disable-banner --disable-ansi-colors 2>&1 | tee "$OUT/parity_7b.log" || status=1
fi

if has bench; then
  echo "=== benchmark (ours)"
  "$java" "${jvm[@]}" -cp "$cp" qwenchat.cli.GpuBenchCommand --model "$model" --out "$OUT/bench.json" 2>&1 \
    | tee "$OUT/bench.log" || status=1
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
  python3 "$here/bench_graph_peer.py" "$model" "$OUT/graph_peer.json" 2>&1 | tee "$OUT/graph_peer.log" || status=1
fi

if [ -f "$OUT/bench.json" ]; then
  peers=()
  for p in "$OUT/peer.json" "$OUT/graph_peer.json"; do [ -f "$p" ] && peers+=("$p"); done
  if [ ${#peers[@]} -gt 0 ]; then
    "$java" -cp "$cp" qwenchat.cli.GpuBenchCommand --table "$OUT/bench.json" "${peers[@]}" | tee "$OUT/table.md"
  fi
fi
exit $status

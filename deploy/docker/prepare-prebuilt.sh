#!/usr/bin/env bash
# Prepares what the image's runtime needs from a built jar: the Spring Boot layers and a JRE
# jlinked with only the modules jdeps finds (plus the few reached by reflection or service lookup).
#   deploy/docker/prepare-prebuilt.sh [JAR] [OUT]   (defaults: target/qwen-chat.jar target/docker)
# OUT/app/{dependencies,spring-boot-loader,snapshot-dependencies,application} and OUT/jre are what
# the Dockerfile's runtime targets copy. Uses $JAVA_HOME's JDK, else the javac on the PATH.
set -euo pipefail
jar="${1:-target/qwen-chat.jar}"
out="${2:-target/docker}"
[ -f "$jar" ] || { echo "[prebuilt] $jar is missing: run ./mvnw package first" >&2; exit 1; }
jdk="${JAVA_HOME:-}"
if [ -z "$jdk" ] || [ ! -x "$jdk/bin/jlink" ]; then
  jdk="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
fi
[ -x "$jdk/bin/jlink" ] || { echo "[prebuilt] no jlink in $jdk (set JAVA_HOME to a JDK >= 21)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"
"$jdk/bin/java" -Djarmode=tools -jar "$jar" extract --layers --launcher --destination "$out/app" >/dev/null
# Layers that are empty in this build still exist, so the Dockerfile's COPY lines always match.
for layer in dependencies spring-boot-loader snapshot-dependencies application; do mkdir -p "$out/app/$layer"; done

libs="$out/app/dependencies/BOOT-INF/lib"
release="$("$jdk/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
modules="$("$jdk/bin/jdeps" --ignore-missing-deps -q --multi-release "$release" --print-module-deps \
  --class-path "$libs/*" "$libs"/*.jar "$out/app/application/BOOT-INF/classes")"
# Not visible to jdeps: JVM metrics (com.sun.management), EC TLS ciphers for HTTPS hubs on JDK 21,
# and DNS lookups through JNDI.
extra="jdk.management,jdk.naming.dns"
if "$jdk/bin/java" --list-modules | grep -q '^jdk.crypto.ec@'; then extra="$extra,jdk.crypto.ec"; fi
echo "[prebuilt] modules: $modules,$extra"
"$jdk/bin/jlink" --add-modules "$modules,$extra" --strip-debug --no-man-pages --no-header-files \
  --compress=zip-6 --output "$out/jre"
echo "[prebuilt] JRE $(du -sh "$out/jre" | cut -f1), app $(du -sh "$out/app" | cut -f1) in $out"

# Sourced by ./mvnw: the project needs a JDK >= 21. When JAVA_HOME is unset and the default java is
# older, pick the newest JDK >= 21 under /usr/lib/jvm so the README's commands work as written.
java_major() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | cut -d. -f1; }
if [ -z "${JAVA_HOME:-}" ]; then
  current=$(command -v java 2>/dev/null || true)
  if [ -z "$current" ] || [ "$(java_major "$current")" -lt 21 ] 2>/dev/null; then
    for jdk in $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do
      if [ -x "$jdk/bin/javac" ] && [ "$(java_major "$jdk/bin/java")" -ge 21 ] 2>/dev/null; then
        export JAVA_HOME=${jdk%/}
        break
      fi
    done
  fi
fi

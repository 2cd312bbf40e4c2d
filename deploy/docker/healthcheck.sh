#!/usr/bin/env bash
# Docker HEALTHCHECK: healthy once /actuator/health/readiness answers 200 (the model is loaded).
# Plain bash over /dev/tcp, so the runtime image needs no curl.
set -eu
port="${SERVER_PORT:-8080}"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /actuator/health/readiness HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 4 status <&3
case "$status" in
  "HTTP/1."?" 200 "*) exit 0 ;;
  *) exit 1 ;;
esac

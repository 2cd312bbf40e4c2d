#!/usr/bin/env bash
# Builds a local Debian base image from Debian packages, for machines that reach no Docker registry
# (CI): debootstrap a minimal bookworm root and import it. Skipped when the image already exists,
# so a machine pays for it once.
#   deploy/docker/build-base-image.sh [IMAGE]   (default qwen-chat-base:bookworm)
set -euo pipefail
image="${1:-qwen-chat-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "[base-image] $image exists"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "[base-image] debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }

rootfs="$(mktemp -d /tmp/qwen-chat-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "[base-image] debootstrap bookworm (minbase) from $mirror into $rootfs"
# ca-certificates: the model download speaks HTTPS to the hub.
debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
  || { tail -20 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"
# Trim what a runtime image never uses.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
       "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
echo "[base-image] imported $image ($(docker image inspect -f '{{.Size}}' "$image") bytes)"

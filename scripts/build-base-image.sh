#!/usr/bin/env bash
# Build the local Python base image that worker-image tests build on, without pulling
# anything from a registry: a Debian bookworm minbase rootfs (debootstrap) with python3,
# python3-venv, ca-certificates and this host's extra CA certificates (so pip inside a
# build trusts an egress proxy), trimmed, then `docker import`ed.
#
# The trimmed rootfs is cached as a zstd tarball OUTSIDE the repo, keyed by the suite, the
# package list and the CA certificates, so later runs import it in about a second.
#
#   DOCKER_HOST=unix:///tmp/kriptik-docker/docker.sock scripts/build-base-image.sh [TAG]
#
# Prints the image tag on stdout. Idempotent: an image that already carries the current key
# is kept. Needs root for debootstrap (only when the tarball is not cached yet).
set -euo pipefail
TAG="${1:-kriptik-local/python:3.11-bookworm}"
DOCKER="${KRIPTIK_DOCKER_CLI:-/usr/bin/docker}"
CACHE="${KRIPTIK_BASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kriptik}"
MIRROR="${KRIPTIK_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
# python3-minimal lacks json; python3-pip is how a worker's Dockerfile gets its installer;
# passwd brings useradd for the worker's non-root user.
PACKAGES="python3,python3-venv,python3-pip,ca-certificates,passwd"
CA_DIR=/usr/local/share/ca-certificates

ca_files=()
if [ -d "$CA_DIR" ]; then
  while IFS= read -r -d '' f; do ca_files+=("$f"); done < <(find "$CA_DIR" -name '*.crt' -print0 | sort -z)
fi
KEY="$( { echo "v1 $SUITE $PACKAGES"; [ "${#ca_files[@]}" -gt 0 ] && cat "${ca_files[@]}"; } | sha256sum | cut -c1-16)"
TARBALL="$CACHE/python-base-$SUITE-$KEY.tar.zst"

if [ "$("$DOCKER" image inspect --format '{{ index .Config.Labels "org.kriptik.base-key" }}' "$TAG" 2>/dev/null)" = "$KEY" ]; then
  echo "$TAG"
  exit 0
fi

if [ ! -s "$TARBALL" ]; then
  need=()
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v zstd >/dev/null || need+=(zstd)
  if [ "${#need[@]}" -gt 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${need[@]}") >&2
  fi
  mkdir -p "$CACHE"
  ROOTFS="$(mktemp -d /tmp/kriptik-rootfs.XXXXXX)"
  trap 'rm -rf "$ROOTFS"' EXIT
  echo "debootstrap $SUITE ($PACKAGES) into $ROOTFS ..." >&2
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" >&2
  if [ "${#ca_files[@]}" -gt 0 ]; then
    cp "${ca_files[@]}" "$ROOTFS$CA_DIR/"
  fi
  chroot "$ROOTFS" update-ca-certificates >&2
  # Trim what a worker never reads: apt's caches and lists, docs, man pages, locales, logs.
  rm -rf "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc/* \
    "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/var/log/* \
    "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/usr/share/common-licenses
  find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
  find "$ROOTFS/usr/lib" -name '__pycache__' -type d -prune -exec rm -rf {} +
  tar -C "$ROOTFS" --numeric-owner -c . | zstd -q -T0 -o "$TARBALL.tmp"
  mv "$TARBALL.tmp" "$TARBALL"
fi

zstd -dc "$TARBALL" | "$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change "LABEL org.kriptik.base-key=$KEY" \
  --change 'CMD ["python3"]' \
  - "$TAG" >/dev/null
echo "$TAG"

#!/usr/bin/env bash
# Start a Docker engine and a registry with htpasswd auth on 127.0.0.1 for the test suite,
# installing Debian's packages first if they are missing. Idempotent: a second run finds
# the running services. Prints the `export` lines to use, and writes them to $ROOT/env:
#   eval "$(scripts/start-docker-services.sh)"
# Needs root (dockerd does). Set KRIPTIK_DOCKER_NO_INSTALL=1 to never call apt-get.
set -euo pipefail
ROOT="${KRIPTIK_DOCKER_ROOT:-/tmp/kriptik-docker}"
REGISTRY_PORT="${KRIPTIK_REGISTRY_PORT:-55000}"
REGISTRY_USER="kriptik"
SOCK="$ROOT/docker.sock"

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v curl >/dev/null || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "${KRIPTIK_DOCKER_NO_INSTALL:-}" = 1 ]; then
    echo "missing: ${need[*]} (and KRIPTIK_DOCKER_NO_INSTALL=1)" >&2
    exit 3
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${need[@]}") >&2
fi
mkdir -p "$ROOT"

# ---- dockerd: private data/exec roots, no iptables and no bridge (none exist in CI) ------
if ! DOCKER_HOST="unix://$SOCK" docker version >/dev/null 2>&1; then
  # A previous daemon may have left its network namespace mounted: unmount before reuse.
  umount "$ROOT/exec/netns/default" 2>/dev/null || true
  rm -f "$SOCK" "$ROOT/dockerd.pid"
  nohup dockerd --host "unix://$SOCK" --data-root "$ROOT/data" --exec-root "$ROOT/exec" \
    --pidfile "$ROOT/dockerd.pid" --iptables=false --ip6tables=false --bridge=none \
    --storage-driver=overlay2 >"$ROOT/dockerd.log" 2>&1 &
  for _ in $(seq 1 150); do
    DOCKER_HOST="unix://$SOCK" docker version >/dev/null 2>&1 && break
    sleep 0.2
  done
  DOCKER_HOST="unix://$SOCK" docker version >/dev/null || { tail -20 "$ROOT/dockerd.log" >&2; exit 1; }
fi

# ---- registry with htpasswd (bcrypt) auth, plain HTTP on loopback ------------------------
if [ ! -s "$ROOT/registry.password" ]; then
  head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$ROOT/registry.password"
fi
REGISTRY_PASSWORD="$(cat "$ROOT/registry.password")"
if ! curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$REGISTRY_PORT/v2/" 2>/dev/null | grep -q 401; then
  htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASSWORD" >"$ROOT/htpasswd"
  cat >"$ROOT/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $ROOT/registry-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
auth:
  htpasswd:
    realm: kriptik-test
    path: $ROOT/htpasswd
EOF
  nohup docker-registry serve "$ROOT/registry.yml" >"$ROOT/registry.log" 2>&1 &
  echo $! >"$ROOT/registry.pid"
  for _ in $(seq 1 100); do
    curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$REGISTRY_PORT/v2/" | grep -q 401 && break
    sleep 0.1
  done
fi

cat >"$ROOT/env" <<EOF
export DOCKER_HOST=unix://$SOCK
export KRIPTIK_TEST_REGISTRY=127.0.0.1:$REGISTRY_PORT
export KRIPTIK_TEST_REGISTRY_USER=$REGISTRY_USER
export KRIPTIK_TEST_REGISTRY_PASSWORD=$REGISTRY_PASSWORD
EOF
cat "$ROOT/env"

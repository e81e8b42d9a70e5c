#!/usr/bin/env bash
# Stop the Docker engine and the registry that scripts/start-docker-services.sh started in
# ROOT, and remove ROOT (the test suite calls this for the services it started itself):
#   scripts/stop-docker-services.sh ROOT
set -uo pipefail
ROOT="${1:?usage: stop-docker-services.sh ROOT}"
[ -d "$ROOT" ] || exit 0

# Waits for a process to end (it was asked to); gives up after about a minute.
ended() {
  for _ in $(seq 1 600); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

for name in registry dockerd; do
  pid="$(cat "$ROOT/$name.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    ended "$pid" || kill -KILL "$pid" 2>/dev/null
  fi
done
# dockerd can leave mounts behind (its network namespace, overlay layers): unmount every
# mount under ROOT, deepest first, before deleting.
awk -v root="$ROOT/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r |
  while read -r mount; do umount -l "$mount" 2>/dev/null || true; done
rm -rf "$ROOT"

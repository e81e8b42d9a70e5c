#!/usr/bin/env bash
# Install the programs some tests run, if they are missing (Debian's packages): `git`
# (tree hashes checked against git's own) and `node` (the generated web apps and clients
# run on it; Node 18 or newer, bookworm's `nodejs` is 18).
# Also npm's pinned `typescript` (the generated TS client is compiled with it).
set -euo pipefail
need=()
command -v git >/dev/null 2>&1 || need+=(git)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ "${#need[@]}" -gt 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${need[@]}") >&2
fi
git --version >&2
echo "node $(node --version)" >&2
# The real TypeScript compiler, pinned, in a cache OUTSIDE the repo (never installed at test
# time): tests/webapp/test_clients.py compiles the generated TS client with it.
TS_VERSION=7.0.2
TS_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/kriptik/typescript"
if [ "$("$TS_DIR/node_modules/.bin/tsc" --version 2>/dev/null)" != "Version $TS_VERSION" ]; then
  mkdir -p "$TS_DIR"
  npm install --prefix "$TS_DIR" --no-audit --no-fund --loglevel=error "typescript@$TS_VERSION" >&2
fi
echo "tsc $("$TS_DIR/node_modules/.bin/tsc" --version)" >&2

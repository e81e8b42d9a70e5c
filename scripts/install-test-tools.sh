#!/usr/bin/env bash
# Install the programs some tests run, if they are missing (Debian's packages): `git`
# (tree hashes checked against git's own) and `node` (the generated web apps and clients
# run on it; Node 18 or newer, bookworm's `nodejs` is 18).
set -euo pipefail
need=()
command -v git >/dev/null 2>&1 || need+=(git)
command -v node >/dev/null 2>&1 || need+=(nodejs)
if [ "${#need[@]}" -gt 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${need[@]}") >&2
fi
git --version >&2
echo "node $(node --version)" >&2

#!/usr/bin/env bash
# Install what the workload tests (tests/workloads/) run the generated workers on, if missing:
# one venv holding every generated worker's pinned requirements (torch from PyPI runs on CPU
# too; the speech worker's ffmpeg comes with its pinned imageio-ffmpeg), cached under
# ~/.cache/kriptik/workloads and keyed by the hash of those pins
# (python -m tests.workloads.env install), and Debian's ffmpeg for its ffprobe, which the
# video tests decode the generated MP4s with. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v ffprobe >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    ffmpeg) >&2
fi
if [ -x .venv/bin/python ]; then
  python=.venv/bin/python
else
  python="uv run --frozen python"
fi
$python -m tests.workloads.env install >&2

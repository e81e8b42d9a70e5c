#!/usr/bin/env bash
# Install what the workload tests (tests/workloads/) run the generated workers on, if missing:
# one venv holding every generated worker's pinned requirements (torch from PyPI runs on CPU
# too; the speech worker's ffmpeg comes with its pinned imageio-ffmpeg), cached under
# ~/.cache/kriptik/workloads and keyed by the hash of those pins
# (python -m tests.workloads.env install). Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then
  python=.venv/bin/python
else
  python="uv run --frozen python"
fi
$python -m tests.workloads.env install >&2

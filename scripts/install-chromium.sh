#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests if it is missing. Playwright drives it
# through `executable_path`, so no browser download is needed.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2
fi
chromium --version >&2

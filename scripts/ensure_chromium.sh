#!/usr/bin/env bash
# Make sure Debian's Chromium is installed: the UI tests drive it headless through Playwright
# (whose own browser download cannot run here), pointing it at /usr/bin/chromium.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "ensure_chromium: installing Debian's chromium" >&2
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

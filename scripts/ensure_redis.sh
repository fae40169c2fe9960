#!/usr/bin/env bash
# Make sure Redis' server binary is installed: tests start their own throwaway servers
# (tests/support/redis.py), so nothing is configured or started here.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "ensure_redis: installing Debian's redis-server" >&2
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null

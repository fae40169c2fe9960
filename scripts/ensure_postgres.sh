#!/usr/bin/env bash
# Make sure PostgreSQL's server binaries are installed: tests start their own throwaway servers
# (tests/support/postgres.py), so nothing is configured or started here.
set -euo pipefail
if command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
  exit 0
fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "ensure_postgres: installing Debian's postgresql" >&2
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null

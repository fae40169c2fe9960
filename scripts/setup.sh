#!/usr/bin/env bash
# Create .venv with Headwater and its development tools, on a fresh Debian machine or an
# existing one. Idempotent: a second call only checks that everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! PYTHON=$(pick_python); then
  echo "setup: no Python 3.11+ found; installing Debian's python3" >&2
  as_root apt-get update -qq
  as_root apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
  PYTHON=$(pick_python)
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    as_root apt-get update -qq
    as_root apt-get install -y -qq python3-venv >/dev/null
    rm -rf .venv
    "$PYTHON" -m venv .venv
  fi
fi

stamp=.venv/.headwater-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  touch "$stamp"
fi

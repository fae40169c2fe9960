#!/usr/bin/env bash
# Set everything up and run the whole test suite, slow tier included (as CI does).
# Extra arguments go to pytest, e.g. ./scripts/test.sh -m "not slow" -x
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/ensure_postgres.sh
./scripts/ensure_chromium.sh
./scripts/ensure_redis.sh
./scripts/ensure_jdbc.sh
export HEADWATER_REQUIRE_BROWSER=1  # the UI tests fail, not skip, without a browser
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests
.venv/bin/mypy
.venv/bin/lint-imports --no-cache  # the layers of docs/architecture.md, in .importlinter
exec .venv/bin/python -m pytest -p no:cacheprovider -n 2 "$@"

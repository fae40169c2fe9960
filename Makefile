.PHONY: install demo lint test test-fast bench

install:
	./scripts/setup.sh

demo:
	./scripts/demo.sh

lint: install
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests
	.venv/bin/mypy

test:
	./scripts/test.sh

test-fast:
	./scripts/setup.sh && .venv/bin/python -m pytest -m "not slow" -x -n 2

bench: install
	.venv/bin/python bench/tpch_marts/run.py

"""The floor of the TPC-H marts workload: the same SELECTs with nothing but DuckDB and delta-rs.

One Python process, one in-memory DuckDB connection. Staging models become DuckDB views in
schema `staging` reading the raw Parquet; each mart's SELECT (verbatim from `models/marts/`)
streams as Arrow record batches into `deltalake.write_deltalake(..., mode="overwrite")` at
`<out>/<namespace>/<name>`.

Usage: python bench/tpch_marts/floor.py --data DIR --out DIR [--select marts.NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import MODELS_DIR, load_models, substitute_vars

BATCH_SIZE = 1_000_000


def build(
    data: Path,
    out: Path,
    models_dir: Path = MODELS_DIR,
    select: list[str] | None = None,
    verbose: bool = True,
) -> None:
    """Create the staging views and write the marts (all, or `select`) as Delta tables."""
    import duckdb
    from deltalake import write_deltalake

    con = duckdb.connect()
    models = load_models(models_dir)
    for model in models:
        if select and model.materialized != "view" and model.key not in select:
            continue
        started = time.perf_counter()
        sql = substitute_vars(model.sql, {"tpch_dir": str(data)})
        if model.materialized == "view":
            con.sql(f"create schema if not exists {model.namespace}")
            con.sql(f"create or replace view {model.key} as {sql}")
        else:
            target = out / model.namespace / model.name
            target.parent.mkdir(parents=True, exist_ok=True)
            reader = con.sql(sql).to_arrow_reader(BATCH_SIZE)
            write_deltalake(str(target), reader, mode="overwrite")
        if verbose:
            print(f"{model.key:28} {model.materialized:6} {time.perf_counter() - started:6.2f} s")


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of <table>.parquet")
    parser.add_argument("--out", type=Path, required=True, help="folder for the Delta tables")
    parser.add_argument("--models", type=Path, default=MODELS_DIR, help="models folder")
    parser.add_argument("--select", nargs="*", help="only these marts, e.g. marts.q1")
    args = parser.parse_args()
    build(args.data.resolve(), args.out.resolve(), args.models, args.select)


if __name__ == "__main__":
    main()

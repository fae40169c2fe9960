"""Which route DuckDB should read a Delta snapshot on S3 by: measured on the local S3 server.

DuckDB has no `httpfs` here, so a table on S3 reaches it one of two ways:

- `fsspec`: DuckDB's own Parquet reader over `read_parquet('s3://...')`, the `s3://` paths
  served by the fsspec filesystem the engine registers (`S3Access.fsspec_filesystem`, fsspec's
  ArrowFSWrapper over pyarrow's S3FileSystem); every read goes through Python.
- `arrow`: a pyarrow dataset over pyarrow's `S3FileSystem` (`storage.s3.object_dataset`, one
  fragment per file of the snapshot) registered in DuckDB, which pushes projections and
  filters into the pyarrow scanner; the reads happen in pyarrow's C++ with no Python.

The table (`--rows`, default 2,000,000, written as `--files` commits through `S3DeltaStore`)
lives on a moto server started here (the server the tests use). Three queries, each on a fresh
engine ("cold": footers not cached) and then `--repeat` times more ("warm", the median): a full
scan aggregating every column, a filtered aggregate on a range of ids (row groups pruned by
their statistics) and a point lookup of one id.

Usage: .venv/bin/python bench/s3_reads/run.py [--rows 2000000] [--files 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.s3 import start_s3_server  # noqa: E402

from headwater.engine.duckdb import DuckDBEngine  # noqa: E402
from headwater.storage.base import CommitInfo, TableRef  # noqa: E402
from headwater.storage.s3 import S3DeltaStore, object_dataset  # noqa: E402

REF = TableRef("bench", "events")
COLUMNS = "id, k, v, s, d"
QUERIES = {
    "full scan": "SELECT count(*) AS n, sum(k) AS k, sum(v) AS v, max(s) AS s, min(d) AS d FROM t",
    "filtered aggregate": (
        "SELECT k % 10 AS bucket, count(*) AS n, avg(v) AS v FROM t "
        "WHERE id BETWEEN {lo} AND {hi} GROUP BY ALL ORDER BY bucket"
    ),
    "point lookup": "SELECT id, k, v, s, d FROM t WHERE id = {point}",
}


def build_table(store: S3DeltaStore, rows: int, files: int) -> None:
    """Write `rows` rows as `files` appends (one Parquet file each) into the S3 table."""
    engine = DuckDBEngine()
    try:
        per = rows // files
        for i in range(files):
            sql = (
                f"SELECT range AS id, (range % 1000)::INTEGER AS k, (range % 997) * 0.25 AS v, "
                f"'name-' || range AS s, DATE '2026-01-01' + (range % 365)::INTEGER AS d "
                f"FROM range({i * per}, {(i + 1) * per})"
            )
            written = engine.session().write_parquet(sql, store.new_file_dir(REF, f"b{i}"))
            store.commit_files(
                REF, written.files, written.schema, "append", CommitInfo("bench", "append")
            )
    finally:
        engine.close()


def register(route: str, engine: DuckDBEngine, store: S3DeltaStore) -> None:
    """Make the table readable as `t` by `route`."""
    snapshot = store.snapshot(REF)
    con = engine.session().connection
    if route == "fsspec":
        paths = ", ".join(f"'{f.path}'" for f in snapshot.files)
        con.execute(f"CREATE OR REPLACE VIEW t AS SELECT {COLUMNS} FROM read_parquet([{paths}])")
    else:
        con.register("t_arrow", object_dataset(snapshot, store.object_store.arrow_filesystem()))
        con.execute(f"CREATE OR REPLACE VIEW t AS SELECT {COLUMNS} FROM t_arrow")


def timed(con: Any, sql: str) -> tuple[float, list[tuple[Any, ...]]]:
    started = time.perf_counter()
    result = con.sql(sql).fetchall()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    server = start_s3_server()
    try:
        os.environ.update(server.environment())
        bucket = server.create_bucket()
        with tempfile.TemporaryDirectory() as scratch:
            store = S3DeltaStore.from_uri(f"s3://{bucket}/warehouse", Path(scratch))
            started = time.perf_counter()
            build_table(store, args.rows, args.files)
            size = sum(f.size for f in store.snapshot(REF).files)
            print(
                f"table: {args.rows:,} rows in {args.files} files, {size / 1e6:.1f} MB on the "
                f"moto server (written in {time.perf_counter() - started:.1f} s)"
            )
            values = {"lo": args.rows // 2, "hi": args.rows // 2 + args.rows // 20}
            values["point"] = args.rows * 3 // 4 + 7
            results: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
            print(f"{'query':<20} {'route':<7} {'cold s':>8} {'warm s':>8}")
            for name, template in QUERIES.items():
                sql = template.format(**values)
                for route in ("fsspec", "arrow"):
                    engine = DuckDBEngine(object_store=store.object_store)
                    try:
                        register(route, engine, store)
                        con = engine.session().connection
                        cold, result = timed(con, sql)
                        warm = statistics.median(timed(con, sql)[0] for _ in range(args.repeat))
                    finally:
                        engine.close()
                    results.setdefault(name, {})[route] = result
                    print(f"{name:<20} {route:<7} {cold:>8.3f} {warm:>8.3f}")
                assert results[name]["fsspec"] == results[name]["arrow"], name
            print("both routes returned the same rows for every query")
    finally:
        server.stop()


if __name__ == "__main__":
    main()

"""A reader that polls one table while tests rebuild it; run in a subprocess (R9).

    python table_reader.py PROJECT TABLE STOP OUT [--via query|storage] [--interval SECONDS]

Every poll reads the table through Headwater's read path — `Project.query`, or
`DeltaStore.snapshot` scanned by DuckDB — and records the row count and the smallest and largest
`build` column; when the file STOP appears it writes what it saw (and any errors) to OUT as
JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("project", type=Path)
    parser.add_argument("table")
    parser.add_argument("stop", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--via", choices=["query", "storage"], default="query")
    parser.add_argument("--interval", type=float, default=0.01)
    args = parser.parse_args(argv)

    from headwater import Project
    from headwater.engine.duckdb import DuckDBEngine
    from headwater.storage.base import TableRef

    sql = f"select count(*) as n, min(build) as lo, max(build) as hi from {args.table}"
    seen: list[list[int]] = []
    errors: list[str] = []
    with Project(args.project) as project:
        store = project.store
        session = DuckDBEngine(threads=1).session()
        ref = TableRef.parse(args.table)
        print("ready", flush=True)
        while not args.stop.exists():
            try:
                if args.via == "query":
                    row = project.query(sql).to_pylist()[0]
                else:
                    session.register_table(ref, store.snapshot(ref))
                    row = session.query(sql).to_pylist()[0]
                seen.append([row["n"], row["lo"], row["hi"]])
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(args.interval)
    args.out.write_text(json.dumps({"seen": seen, "errors": errors}), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])

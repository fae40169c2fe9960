"""The floor of the TPC-H ingest benchmark: DuckDB `read_csv` -> Arrow batches -> delta-rs.

One process, one table after another, as `../shared/BENCHMARKS.md` defines it.

Usage: python bench/tpch_ingest/floor.py CSV_DIR OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
from deltalake import write_deltalake

TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")


def main() -> None:
    """Load every table's CSV file into a Delta table under OUT_DIR."""
    csv_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    connection = duckdb.connect()
    for table in TABLES:
        path = str(csv_dir / f"{table}.csv")
        reader = connection.execute(
            f"SELECT * FROM read_csv('{path}', header = true)"
        ).to_arrow_reader(122_880)
        write_deltalake(str(out_dir / table), reader, mode="overwrite")


if __name__ == "__main__":
    main()

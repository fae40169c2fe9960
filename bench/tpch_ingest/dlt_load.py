"""The dlt peer of the TPC-H ingest benchmark, run in dlt's own venv (bench/.venvs/dlt).

dlt's fastest file path: the `filesystem` source with its `read_csv_duckdb` transformer (DuckDB
parses the CSV into Arrow tables of 100,000 rows), into DuckDB or into Delta tables on the local
filesystem destination. Its pandas-based `read_csv` turns every row into a Python dict and took
over 4 minutes for the DuckDB destination alone here, so it is not the fair peer.

Usage: python bench/tpch_ingest/dlt_load.py CSV_DIR OUT_DIR duckdb|delta
"""

from __future__ import annotations

import sys
from pathlib import Path

import dlt
from dlt.sources.filesystem import filesystem, read_csv_duckdb

TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")


def main() -> None:
    """Load the eight CSV files with dlt into the chosen destination under OUT_DIR."""
    csv_dir, out_dir, kind = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    if kind == "duckdb":
        destination = dlt.destinations.duckdb(str(out_dir / "dlt.duckdb"))
        format_options: dict[str, str] = {}
    else:
        destination = dlt.destinations.filesystem(str(out_dir / "lake"))
        format_options = {"table_format": "delta"}
    pipeline = dlt.pipeline(
        pipeline_name="tpch_ingest",
        destination=destination,
        dataset_name="tpch",
        pipelines_dir=str(out_dir / ".dlt"),
    )
    resources = []
    for table in TABLES:
        files = filesystem(bucket_url=str(csv_dir), file_glob=f"{table}.csv")
        resource = (files | read_csv_duckdb(chunk_size=100_000, use_pyarrow=True)).with_name(table)
        resource.apply_hints(**format_options)  # type: ignore[arg-type]
        resources.append(resource)
    info = pipeline.run(resources)
    print(info)


if __name__ == "__main__":
    main()

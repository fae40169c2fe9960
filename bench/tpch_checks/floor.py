"""The floor of the TPC-H checks workload: the nine checks with nothing but DuckDB and delta-rs.

One Python process, one in-memory DuckDB connection. The Parquet files of the current version
of each Delta table come from `deltalake.DeltaTable(path).file_uris()` and are read with DuckDB's
`read_parquet([...])`. ONE query computes every failing count in a single scan of lineitem
(`count(*) FILTER (WHERE ...)` per row check, rows minus distinct keys for the uniqueness, the
row count), and ONE anti-join query counts line items whose order is missing from orders.

Prints one JSON object, `{"rows": N, "failing": {check: count}}`, on its last line; a check
passes when its failing count is 0 (row_count: when rows >= 1).

Usage: python bench/tpch_checks/floor.py --lineitem DELTA_DIR --orders DELTA_DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SCAN = """
select
    count(*) as rows,
    count(*) filter (where l_orderkey is null) as not_null_l_orderkey,
    count(*) filter (where l_partkey is null) as not_null_l_partkey,
    count(*) filter (where l_suppkey is null) as not_null_l_suppkey,
    count(*) - count(distinct (l_orderkey, l_linenumber)) as unique_l_orderkey_l_linenumber,
    count(*) filter (
        where l_returnflag is not null and l_returnflag not in ('A', 'N', 'R')
    ) as accepted_values_l_returnflag,
    count(*) filter (
        where l_quantity is not null and not (l_quantity >= 1 and l_quantity <= 50)
    ) as range_l_quantity,
    count(*) filter (where not coalesce(l_shipdate <= l_receiptdate, false)) as expression
from lineitem
"""

ANTI_JOIN = """
select count(*) from lineitem l
anti join orders o on l.l_orderkey = o.o_orderkey
where l.l_orderkey is not null
"""


def parquet_files(delta_dir: Path) -> list[str]:
    """The Parquet files of the current version of the Delta table at `delta_dir`."""
    from deltalake import DeltaTable

    return DeltaTable(str(delta_dir)).file_uris()


def sql_list(files: list[str]) -> str:
    """A DuckDB list literal of file names."""
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def run_checks(lineitem: Path, orders: Path) -> dict[str, object]:
    """Run the nine checks; return the row count and every check's failing count."""
    import duckdb

    con = duckdb.connect()
    con.sql(
        f"create view lineitem as select * from read_parquet({sql_list(parquet_files(lineitem))})"
    )
    con.sql(f"create view orders as select * from read_parquet({sql_list(parquet_files(orders))})")
    scan = con.sql(SCAN)
    [first] = scan.fetchall()
    values = dict(zip(scan.columns, first, strict=True))
    rows = int(values.pop("rows"))
    [(orphans,)] = con.sql(ANTI_JOIN).fetchall()
    failing = {name: int(count) for name, count in values.items()}
    failing["relationships_l_orderkey"] = int(orphans)
    failing["row_count"] = 0 if rows >= 1 else 1
    return {"rows": rows, "failing": failing}


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lineitem", type=Path, required=True, help="Delta table of lineitem")
    parser.add_argument("--orders", type=Path, required=True, help="Delta table of orders")
    args = parser.parse_args()
    print(json.dumps(run_checks(args.lineitem, args.orders)))


if __name__ == "__main__":
    main()

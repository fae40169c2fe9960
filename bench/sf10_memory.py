"""Benchmark: peak memory of building models over TPC-H SF10 lineitem (60M rows).

Two models, each run as its own `headwater run` under `/usr/bin/time -v`:
- `staging.lineitem`: every row renamed and cast (the whole table streams through DuckDB's
  Parquet writer into a Delta table);
- `marts.order_totals`: an aggregate with one group per order (15M groups), which spills.

The issue's target is a peak RSS under 3 GiB. The project sets `engine.memory_limit` so DuckDB
spills instead of growing; the figure reported is the whole process's peak.

    .venv/bin/tpchgen-cli parquet -s 10 --tables=lineitem --output-dir=bench/.data/tpch-sf10/parquet
    .venv/bin/python bench/sf10_memory.py
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).parent
STAGING = """
select l_orderkey as orderkey, l_partkey as partkey, l_suppkey as suppkey,
       l_linenumber as linenumber, l_quantity as quantity, l_extendedprice as extendedprice,
       l_discount as discount, l_tax as tax, l_returnflag as returnflag,
       l_linestatus as linestatus, cast(l_shipdate as date) as shipdate,
       cast(l_commitdate as date) as commitdate, cast(l_receiptdate as date) as receiptdate,
       l_shipinstruct as shipinstruct, l_shipmode as shipmode, l_comment as comment
from read_parquet('{path}')
"""
ORDER_TOTALS = """
select orderkey, count(*) as items, sum(quantity) as quantity,
       sum(extendedprice * (1 - discount)) as revenue, min(shipdate) as first_ship,
       max(receiptdate) as last_receipt
from staging.lineitem
group by orderkey
"""


def peak_rss_mib(stderr: str) -> float:
    """Peak resident set size from `/usr/bin/time -v` output, in MiB."""
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    return int(match.group(1)) / 1024 if match else float("nan")


def main() -> None:
    """Build the two models and print their wall time, rows and peak RSS as markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lineitem", type=Path, default=BENCH / ".data/tpch-sf10/parquet/lineitem.parquet"
    )
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--dir", type=Path, default=BENCH / ".work" / "sf10")
    options = parser.parse_args()
    if not options.lineitem.exists():
        raise SystemExit(f"{options.lineitem} is missing; generate SF10 lineitem first")
    shutil.rmtree(options.dir, ignore_errors=True)
    (options.dir / "models/staging").mkdir(parents=True)
    (options.dir / "models/marts").mkdir(parents=True)
    (options.dir / "headwater.yml").write_text(
        f"name: sf10\nthreads: 1\nengine:\n  memory_limit: {options.memory_limit}\n"
    )
    path = str(options.lineitem.resolve())
    (options.dir / "models/staging/lineitem.sql").write_text(STAGING.format(path=path))
    (options.dir / "models/marts/order_totals.sql").write_text(ORDER_TOTALS)
    print(
        f"| model (SF10, memory_limit {options.memory_limit}) | wall (s) | peak RSS (MiB) | result"
        " |"
    )
    print("|---|---|---|---|")
    for model in ("staging.lineitem", "marts.order_totals"):
        start = time.perf_counter()
        result = subprocess.run(
            ["/usr/bin/time", "-v", sys.executable, "-m", "headwater.cli.main", "run", "-s", model],
            cwd=options.dir,
            check=False,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        summary = next((line for line in result.stdout.splitlines() if "rows" in line), "")
        status = "ok" if result.returncode == 0 else f"exit {result.returncode}"
        print(
            f"| {model} | {wall:.1f} | {peak_rss_mib(result.stderr):.0f} | {status}: "
            f"{summary.strip()} |"
        )
        if result.returncode != 0:
            print(result.stdout[-2000:], result.stderr[-2000:], file=sys.stderr)


if __name__ == "__main__":
    main()

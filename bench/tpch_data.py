"""Generate TPC-H data as Parquet for the benchmarks, and the 1 % increment of new orders.

Layout (everything under the git-ignored `bench/.data/`):

    bench/.data/tpch-sf{N}/parquet/<table>.parquet     one file per table, from tpchgen-cli
    bench/.data/tpch-sf{N}/increment/orders_new.parquet   ~1 % new orders, keys above the max
    bench/.data/tpch-sf{N}/increment/lineitem_new.parquet their line items

tpchgen-cli writes `<dir>/<table>.parquet` by default, or `<dir>/<table>/<table>.<i>.parquet`
with `--parts`; a folder is merged into one file so the layout above always holds. Existing
data is kept (delete the folder to regenerate).

The increment copies a deterministic ~1 % of existing orders (and their line items) with order
keys shifted past the current maximum, so the new orders belong to existing customers. Drop the
two files next to the base files and a reader of `orders*.parquet` / `lineitem*.parquet` sees
the grown tables.

Usage: python bench/tpch_data.py [--sf 1] [--increment]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
DATA_ROOT = BENCH_DIR / ".data"
TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")
TPCHGEN_REQUIREMENT = "tpchgen-cli>=4,<5"  # the `parquet`/`csv` subcommands
INCREMENT_PERCENT = 1


def sf_label(sf: float) -> str:
    """Return the folder label of a scale factor: 1 -> '1', 0.1 -> '0.1'."""
    return str(int(sf)) if float(sf).is_integer() else str(sf)


def data_dir(sf: float) -> Path:
    """Return the folder holding one Parquet file per table at scale factor `sf`."""
    return DATA_ROOT / f"tpch-sf{sf_label(sf)}" / "parquet"


def increment_dir(sf: float) -> Path:
    """Return the folder holding the ~1 % increment of new orders and line items."""
    return DATA_ROOT / f"tpch-sf{sf_label(sf)}" / "increment"


def _tpchgen() -> str:
    """Return tpchgen-cli's path: beside this interpreter, on PATH, or installed now from PyPI.

    The benchmarks install what they need, so a fresh checkout runs them with nothing but the
    project's venv; tpchgen-cli is pip-installed into the interpreter running the benchmark.
    """
    local = Path(sys.executable).parent / "tpchgen-cli"
    if local.exists():
        return str(local)
    found = shutil.which("tpchgen-cli")
    if found is not None:
        return found
    print("tpchgen-cli not found: installing it with pip into this interpreter's environment")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", TPCHGEN_REQUIREMENT], check=True)
    if not local.exists():
        raise SystemExit(
            f"pip installed {TPCHGEN_REQUIREMENT} but {local} is missing; install it by hand "
            f"with `{sys.executable} -m pip install {TPCHGEN_REQUIREMENT}`"
        )
    return str(local)


def _normalise(out: Path) -> None:
    """Turn a `<table>/` folder of parts into a single `<table>.parquet`."""
    import duckdb

    for table in TABLES:
        folder = out / table
        if folder.is_dir():
            target = out / f"{table}.parquet"
            duckdb.sql(
                f"copy (select * from read_parquet('{folder}/*.parquet')) "
                f"to '{target}' (format parquet)"
            )
            shutil.rmtree(folder)


def generate(sf: float = 1) -> Path:
    """Generate the 8 tables at scale factor `sf` unless they are already there."""
    out = data_dir(sf)
    if all((out / f"{t}.parquet").exists() for t in TABLES):
        return out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    cmd = [_tpchgen(), "parquet", "-s", sf_label(sf), "--output-dir", str(out), "--no-progress"]
    subprocess.run(cmd, check=True)
    _normalise(out)
    missing = [t for t in TABLES if not (out / f"{t}.parquet").exists()]
    if missing:
        raise SystemExit(f"tpchgen-cli did not produce {missing} in {out}")
    print(f"generated TPC-H sf{sf_label(sf)} in {time.perf_counter() - started:.1f} s: {out}")
    return out


def make_increment(sf: float = 1) -> Path:
    """Write ~1 % new orders with their line items, keys shifted above the current maximum."""
    import duckdb

    base = generate(sf)
    out = increment_dir(sf)
    orders_new, lineitem_new = out / "orders_new.parquet", out / "lineitem_new.parquet"
    if orders_new.exists() and lineitem_new.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    [(max_key,)] = con.sql(f"select max(o_orderkey) from '{base}/orders.parquet'").fetchall()
    # A deterministic 1 % of orders, spread over all customers; shifted keys stay above max_key.
    con.sql(
        f"create temp table picked as select o_orderkey as old_key, o_orderkey + {max_key} as "
        f"new_key from '{base}/orders.parquet' "
        f"where hash(o_orderkey) % 100 < {INCREMENT_PERCENT}"
    )
    con.sql(
        f"copy (select * replace (p.new_key as o_orderkey) from '{base}/orders.parquet' o "
        f"join picked p on o.o_orderkey = p.old_key order by p.new_key) "
        f"to '{orders_new}' (format parquet)"
    )
    con.sql(
        f"copy (select * replace (p.new_key as l_orderkey) from '{base}/lineitem.parquet' l "
        f"join picked p on l.l_orderkey = p.old_key order by p.new_key, l.l_linenumber) "
        f"to '{lineitem_new}' (format parquet)"
    )
    [counts] = con.sql(
        f"select (select count(*) from '{orders_new}'), (select count(*) from '{lineitem_new}')"
    ).fetchall()
    print(f"increment: {counts} new (orders, line items) above order key {max_key}: {out}")
    return out


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sf", type=float, default=1, help="TPC-H scale factor (default 1)")
    parser.add_argument("--increment", action="store_true", help="also write the 1 %% increment")
    args = parser.parse_args()
    print(generate(args.sf))
    if args.increment:
        print(make_increment(args.sf))


if __name__ == "__main__":
    main()

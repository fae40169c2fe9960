"""The peer of the "TPC-H marts on Spark" workload: plain PySpark running the same SELECTs.

One Python process, one Spark session (`--master`, default `local[2]`). The 14 model files of
`bench/tpch_marts/models/` are transpiled once from DuckDB SQL to Spark SQL by sqlglot, through
Headwater's own `headwater.engine.spark_sql.spark_sql`, so the peer runs exactly the SQL the
Spark engine is given: each staging model becomes a temporary view `staging__<name>` over the
raw Parquet, each mart is written as Parquet to `<out>/marts/<name>` (no Delta: Spark has no
Delta jars here).

Prints one JSON object on its last line: `session_s` (from the start of the process's own code,
`import pyspark` included, to a ready session), `work_s` (the views and the six writes) and
`stop_s` (`spark.stop()`). `--session-only` starts the session and stops it, nothing else: the
runner times that alone as "Spark session start".

Usage: python bench/spark_marts/peer.py --data DIR --out DIR [--master local[2]]
                                        [--conf key=value ...] [--session-only]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tpch_marts"))

from common import load_models, substitute_vars  # noqa: E402


def session(master: str, settings: dict[str, str]) -> Any:
    """A Spark session on `master` with `settings`, its web UI off."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName("headwater-bench-pyspark")
    builder = builder.config("spark.ui.enabled", "false")
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def transpiled(data: Path) -> list[tuple[str, str, str]]:
    """(materialization, view name, Spark SQL) of every model, staging first."""
    from headwater.engine.spark_sql import spark_sql, view_name

    return [
        (
            model.materialized,
            view_name(model.namespace, model.name),
            spark_sql(substitute_vars(model.sql, {"tpch_dir": str(data)})),
        )
        for model in load_models()
    ]


def build(spark: Any, models: list[tuple[str, str, str]], out: Path) -> None:
    """Create the staging views and write each mart as Parquet under `out/marts/`."""
    for materialized, name, sql in models:
        if materialized == "view":
            spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {sql}")
        else:
            target = out / "marts" / name.split("__", 1)[1]
            spark.sql(sql).write.mode("overwrite").parquet(str(target))


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, help="folder of <table>.parquet")
    parser.add_argument("--out", type=Path, help="folder for the marts' Parquet")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--conf", action="append", default=[], help="a Spark setting key=value")
    parser.add_argument("--session-only", action="store_true", help="start a session, stop it")
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.conf)
    # transpiling is done before the session starts: "transpiled once", outside the timing
    models = [] if args.session_only else transpiled(args.data.resolve())
    began = time.perf_counter()
    spark = session(args.master, settings)
    ready = time.perf_counter()
    if not args.session_only:
        build(spark, models, args.out.resolve())
    done = time.perf_counter()
    spark.stop()
    stopped = time.perf_counter()
    figures = {
        "session_s": ready - began,
        "work_s": done - ready,
        "stop_s": stopped - done,
        "process_code_s": stopped - STARTED,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

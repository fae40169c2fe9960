"""Exports benchmark (workload "Exports" of shared/BENCHMARKS.md): 1,000,000 changed rows of
TPC-H `orders` upserted into a PostgreSQL table by a Headwater export, beside the floor (the
same rows loaded with `COPY` into a staging table plus one `INSERT ... ON CONFLICT DO UPDATE`),
in one run on the same data.

Data: the first `--rows` (1,000,000) orders by key of TPC-H SF1 (`bench/tpch_data.py`,
tpchgen-cli), all 9 columns. PostgreSQL 15 is started by this script (a throwaway cluster,
`tests/support/postgres.py`: fsync off, otherwise default settings, on this machine); two
tables with the TPC-H types and `o_orderkey` as primary key, `orders_hw` (Headwater's) and
`orders_floor`, autovacuum off on both.

The Headwater project has one model, `bench.orders` (`select * from read_parquet(...)` of a
Parquet file the runner rewrites), and one export, `exports.orders_to_pg`, `mode: upsert` on
`o_orderkey` into `orders_hw`. Each round has two phases, each timed for both arms:

- `first`: into an empty table (both tables truncated, the export's position deleted): every
  row is new.
- `update`: `o_totalprice` + 1 for every row of the file, the model rebuilt: the export sends
  the 1,000,000 rows that differ between the two Delta versions (DuckDB's `EXCEPT`), and the
  floor loads the same changed rows (as a CSV written from the same Parquet file) over a
  table holding the previous ones.

What is timed:
- headwater: `duration_s` of `exports.orders_to_pg` in the JSON of `headwater run -s
  exports.orders_to_pg --json`, run after the model was built by a separate, untimed
  `headwater run -s bench.orders`: the export's build only (reading the two versions' changes,
  CSV conversion, COPY, the upsert, the position, the commit), not the process start or the
  project load; the process's wall time is reported beside it.
- floor: `floor.py`, its own timing from connecting to the commit (the CSV exists already),
  in a process of its own.

Peak RSS of each process tree is polled every 50 ms (bench/streaming/measure.py). Before every
timed arm PostgreSQL runs a CHECKPOINT (untimed); the two arms take turns going first. After
each phase both tables are compared in PostgreSQL (row count, `EXCEPT ALL` both ways, the sum
of `o_totalprice` against DuckDB's over the Parquet file): any difference fails the run.

Usage:
  .venv/bin/python bench/exports/run.py --out bench/results/exports.md   # 1M rows, 3 rounds
  .venv/bin/python bench/exports/run.py --rows 100000 --runs 1            # a quick try
  .venv/bin/python bench/exports/run.py --profile                         # + where time goes
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH / "streaming"))
sys.path.insert(1, str(BENCH))
sys.path.insert(2, str(REPO))

import measure  # noqa: E402  (bench/streaming/measure.py)
import tpch_data  # noqa: E402
from tests.support.postgres import PostgresServer, start_postgres  # noqa: E402

WORK = BENCH / ".work" / "exports"
PYTHON = sys.executable
HEADWATER = [PYTHON, "-m", "headwater.cli.main"]
DATABASE = "bench"
URL_VARIABLE = "BENCH_EXPORT_URL"
EXPORT = "orders_to_pg"
KEY = "o_orderkey"
TARGET = 0.7
PHASES = {
    "first": "first export, into an empty table (every row inserted)",
    "update": "o_totalprice changed in every row, the table holding the previous rows",
}
DASH, TIMES = "\u2013", "\u00d7"

COLUMNS = (
    "o_orderkey",
    "o_custkey",
    "o_orderstatus",
    "o_totalprice",
    "o_orderdate",
    "o_orderpriority",
    "o_clerk",
    "o_shippriority",
    "o_comment",
)
TABLE_DDL = """
CREATE TABLE {table} (
    o_orderkey      bigint PRIMARY KEY,
    o_custkey       bigint NOT NULL,
    o_orderstatus   char(1) NOT NULL,
    o_totalprice    numeric(15, 2) NOT NULL,
    o_orderdate     date NOT NULL,
    o_orderpriority varchar(15) NOT NULL,
    o_clerk         varchar(15) NOT NULL,
    o_shippriority  integer NOT NULL,
    o_comment       varchar(79) NOT NULL
) WITH (autovacuum_enabled = false)
"""
SETTINGS = {"max_wal_size": "8GB", "checkpoint_timeout": "30min"}
"""Set after start (reloadable): no checkpoint in the middle of an arm."""


@dataclass
class Sample:
    """One timed arm."""

    seconds: float
    wall_s: float
    rss_mib: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Bench:
    """Settings, the server and the results of one session."""

    args: argparse.Namespace
    server: PostgresServer | None = None
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)
    load_start: float = field(default_factory=lambda: os.getloadavg()[0])
    load_max: float = 0.0

    @property
    def dsn(self) -> str:
        assert self.server is not None
        return self.server.dsn(DATABASE)

    def note_load(self) -> None:
        self.load_max = max(self.load_max, os.getloadavg()[0])


class ArmFailed(Exception):
    """An arm exited non-zero or left a table that differs from the other's."""


# ---------------------------------------------------------------- PostgreSQL


def sql(bench: Bench, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run `statement` in the bench database (autocommit) and return its rows."""
    import psycopg

    with psycopg.connect(bench.dsn, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description else []


def start_server(bench: Bench) -> None:
    import psycopg

    bench.server = start_postgres()
    with psycopg.connect(bench.server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
        for name, value in SETTINGS.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        conn.execute("SELECT pg_reload_conf()")
        version = conn.execute("SHOW server_version").fetchone()
    for table in ("orders_hw", "orders_floor"):
        sql(bench, TABLE_DDL.format(table=table))
    bench.facts.append(
        f"PostgreSQL {version[0] if version else '?'} on 127.0.0.1 (fsync=off, "
        + ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
        + ", the rest default)"
    )


def reset_tables(bench: Bench) -> None:
    """Empty both tables and forget the export's position."""
    sql(bench, "TRUNCATE orders_hw, orders_floor")
    if sql(bench, "SELECT to_regclass('headwater_export_positions')")[0][0] is not None:
        sql(bench, "DELETE FROM headwater_export_positions WHERE export = %s", (EXPORT,))


def compare(bench: Bench, phase: str, round_: int, expected_sum: str) -> None:
    """Both tables hold the same rows, as many as the file, with its sum of prices."""
    columns = ", ".join(COLUMNS)
    (row,) = sql(
        bench,
        f"SELECT (SELECT count(*) FROM orders_hw), (SELECT count(*) FROM orders_floor), "
        f"(SELECT count(*) FROM (SELECT {columns} FROM orders_hw EXCEPT ALL "
        f"SELECT {columns} FROM orders_floor) AS a), "
        f"(SELECT count(*) FROM (SELECT {columns} FROM orders_floor EXCEPT ALL "
        f"SELECT {columns} FROM orders_hw) AS b), "
        f"(SELECT sum(o_totalprice)::text FROM orders_hw)",
    )
    hw, floor, only_hw, only_floor, total = row
    line = (
        f"{phase} r{round_}: Headwater {hw:,} rows, floor {floor:,} rows, {only_hw} only in "
        f"Headwater's, {only_floor} only in the floor's; sum(o_totalprice) {total} "
        f"(the file's {expected_sum})"
    )
    ok = hw == floor == bench.args.rows and only_hw == only_floor == 0 and total == expected_sum
    bench.checks.append(line + (": equal" if ok else ": DIFFERENT"))
    if not ok:
        raise ArmFailed(line)


# ---------------------------------------------------------------- data and project


def prepare_base(bench: Bench) -> Path:
    """The first `--rows` orders by key, as one Parquet file (untimed)."""
    import duckdb

    source = tpch_data.generate(bench.args.sf) / "orders.parquet"
    base = WORK / "orders_base.parquet"
    duckdb.sql(
        f"COPY (SELECT * FROM read_parquet('{source}') ORDER BY o_orderkey "
        f"LIMIT {bench.args.rows}) TO '{base}' (FORMAT parquet)"
    )
    return base


def write_variant(base: Path, project: Path, csv: Path, offset: int) -> str:
    """Write the model's input file (`o_totalprice` + `offset`) and the floor's CSV of the
    same rows; return the sum of prices (as PostgreSQL prints it)."""
    import duckdb

    target = project / "data" / "orders.parquet"
    staged = target.with_suffix(".tmp")
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * REPLACE (CAST(o_totalprice + {offset} AS DECIMAL(15, 2)) AS "
        f"o_totalprice) FROM read_parquet('{base}')) TO '{staged}' (FORMAT parquet)"
    )
    os.replace(staged, target)
    con.execute(
        f"COPY (SELECT * FROM read_parquet('{target}')) TO '{csv}' (FORMAT csv, HEADER false)"
    )
    row = con.execute(f"SELECT sum(o_totalprice)::VARCHAR FROM read_parquet('{target}')").fetchone()
    con.close()
    assert row is not None
    return str(row[0])


def write_project(root: Path) -> None:
    (root / "models" / "bench").mkdir(parents=True)
    (root / "exports").mkdir()
    (root / "data").mkdir()
    (root / "headwater.yml").write_text("name: exportbench\nthreads: 2\n")
    (root / "models" / "bench" / "orders.sql").write_text(
        "select * from read_parquet('data/orders.parquet')\n"
    )
    (root / "exports" / "pg.yml").write_text(
        "exports:\n"
        f"  - name: {EXPORT}\n"
        "    from: bench.orders\n"
        "    mode: upsert\n"
        f"    key: [{KEY}]\n"
        "    to:\n"
        "      postgres:\n"
        f"        url: ${{{URL_VARIABLE}}}\n"
        "        table: public.orders_hw\n"
    )


def headwater(bench: Bench, project: Path, select: str) -> tuple[measure.Measured, dict[str, Any]]:
    """`headwater run -s SELECT --json` in `project`, measured; the outcome of `select`."""
    assert bench.server is not None
    env = {**os.environ, URL_VARIABLE: bench.server.url(DATABASE)}
    result = measure.run([*HEADWATER, "run", "-s", select, "--json"], cwd=project, env=env)
    bench.note_load()
    if result.returncode != 0:
        raise ArmFailed(f"headwater run -s {select}: {result.failure()}")
    summary = json.loads(result.stdout)
    outcome = next(a for a in summary["assets"] if a["key"] == select)
    if outcome["status"] != "success":
        raise ArmFailed(f"{select}: {outcome['status']} {outcome['message']}")
    return result, outcome


# ---------------------------------------------------------------- arms


def arm_headwater(bench: Bench, project: Path, phase: str) -> None:
    sql(bench, "CHECKPOINT")
    result, outcome = headwater(bench, project, f"exports.{EXPORT}")
    if outcome["rows"] != bench.args.rows:
        raise ArmFailed(f"the export sent {outcome['rows']} rows: {outcome['message']}")
    sample = Sample(outcome["duration_s"], result.wall_s, result.peak_rss_mb, outcome)
    bench.samples.setdefault(("headwater", phase), []).append(sample)
    print(
        f"  headwater {phase}: {sample.seconds:.2f} s (process {sample.wall_s:.2f} s), "
        f"{sample.rss_mib:.0f} MiB: {outcome['message']}",
        flush=True,
    )


def arm_floor(bench: Bench, csv: Path, phase: str) -> None:
    sql(bench, "CHECKPOINT")
    command = [PYTHON, str(HERE / "floor.py"), bench.dsn, "public.orders_floor", KEY, str(csv)]
    result = measure.run(command)
    bench.note_load()
    if result.returncode != 0:
        raise ArmFailed(f"floor: {result.failure()}")
    report = result.report
    if report.get("rows") != bench.args.rows:
        raise ArmFailed(f"the floor upserted {report.get('rows')} rows")
    sample = Sample(report["seconds"], result.wall_s, result.peak_rss_mb, report)
    bench.samples.setdefault(("floor", phase), []).append(sample)
    print(
        f"  floor {phase}: {sample.seconds:.2f} s (COPY {report['copy_s']:.2f} s, INSERT "
        f"{report['apply_s']:.2f} s), {sample.rss_mib:.0f} MiB",
        flush=True,
    )


def one_round(bench: Bench, base: Path, project: Path, csv: Path, round_: int) -> None:
    """Both phases, both arms (taking turns going first)."""
    tools = bench.args.tools
    order = tools if round_ % 2 == 0 else list(reversed(tools))
    for number, phase in enumerate(PHASES):
        offset = 2 * round_ + number
        expected = write_variant(base, project, csv, offset)
        headwater(bench, project, "bench.orders")  # the model (untimed)
        if phase == "first":
            reset_tables(bench)
        else:
            sql(bench, "VACUUM orders_hw")
            sql(bench, "VACUUM orders_floor")
        for tool in order:
            if tool == "headwater":
                arm_headwater(bench, project, phase)
            else:
                arm_floor(bench, csv, phase)
        if set(tools) == {"headwater", "floor"}:
            compare(bench, phase, round_, expected)


def profile_export(bench: Bench, base: Path, project: Path, csv: Path) -> None:
    """One more round of Headwater's export, in this process with each step timed."""
    import profile_steps

    assert bench.server is not None
    os.environ[URL_VARIABLE] = bench.server.url(DATABASE)
    for number, phase in enumerate(PHASES):
        write_variant(base, project, csv, 2 * bench.args.runs + number)
        headwater(bench, project, "bench.orders")
        if phase == "first":
            reset_tables(bench)
        else:
            sql(bench, "VACUUM orders_hw")
        sql(bench, "CHECKPOINT")
        lines = profile_steps.profile(project, f"exports.{EXPORT}")
        bench.profile += [f"- {phase}:", *(f"  {line}" for line in lines)]
        print("\n".join(bench.profile[-len(lines) - 1 :]), flush=True)


# ---------------------------------------------------------------- report


def versions() -> str:
    parts = []
    for package in ("headwater", "duckdb", "deltalake", "pyarrow", "psycopg"):
        try:
            parts.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{package} not installed")
    return ", ".join(parts)


def median(samples: list[Sample]) -> float:
    return statistics.median(s.seconds for s in samples)


def table(bench: Bench) -> list[str]:
    rows = bench.args.rows
    lines = [
        f"| phase | arm | what was timed | rows | runs | median s | min{DASH}max s | rows/s | "
        f"process wall s (median) | peak RSS MiB | {TIMES} floor rows/s |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    what = {
        "floor": "COPY of the CSV into a staging table + INSERT ... ON CONFLICT DO UPDATE",
        "headwater": f"the build of exports.{EXPORT} (its duration_s)",
    }
    for phase in PHASES:
        floor = bench.samples.get(("floor", phase))
        for tool in ("floor", "headwater"):
            samples = bench.samples.get((tool, phase))
            if not samples:
                continue
            seconds = median(samples)
            ratio = f"{median(floor) / seconds:.2f}{TIMES}" if floor else ""
            low, high = min(s.seconds for s in samples), max(s.seconds for s in samples)
            lines.append(
                f"| {phase} | {tool} | {what[tool]} | {rows:,} | {len(samples)} | "
                f"{seconds:.2f} | {low:.2f}{DASH}{high:.2f} | {rows / seconds:,.0f} | "
                f"{statistics.median(s.wall_s for s in samples):.2f} | "
                f"{max(s.rss_mib for s in samples):.0f} | {ratio} |"
            )
    return lines


def comparison(bench: Bench) -> list[str]:
    found = []
    for phase, label in PHASES.items():
        floor = bench.samples.get(("floor", phase))
        ours = bench.samples.get(("headwater", phase))
        if not floor or not ours:
            continue
        ratio = median(floor) / median(ours)
        per_round = ", ".join(
            f"{f.seconds / h.seconds:.2f}{TIMES}" for f, h in zip(floor, ours, strict=False)
        )
        verdict = "met" if ratio >= TARGET else "NOT met"
        found.append(
            f"- {phase} ({label}): Headwater {bench.args.rows / median(ours):,.0f} rows/s, "
            f"floor {bench.args.rows / median(floor):,.0f} rows/s: **{ratio:.2f}{TIMES}** "
            f"the floor (target >= {TARGET}{TIMES}: {verdict}); round by round {per_round}"
        )
    return found


def breakdown(bench: Bench) -> list[str]:
    """The floor's and Headwater's steps (medians)."""
    lines = []
    for phase in PHASES:
        floor = bench.samples.get(("floor", phase))
        if floor:
            copy = statistics.median(s.detail["copy_s"] for s in floor)
            apply = statistics.median(s.detail["apply_s"] for s in floor)
            lines.append(
                f"- floor, {phase}: COPY into the staging table {copy:.2f} s, "
                f"INSERT ... ON CONFLICT {apply:.2f} s (medians)"
            )
    return lines


def report(bench: Bench, command: str) -> str:
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load_end = os.getloadavg()[0]
    lines = [
        f"# Exports benchmark ({bench.args.rows:,} changed rows of TPC-H orders, upsert)",
        "",
        f"{now}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}; "
        f"{versions()}. 1-min load average {bench.load_start:.1f} at the start, "
        f"{max(bench.load_max, load_end):.1f} at most, {load_end:.1f} at the end.",
        f"Generated by `{command}`. PostgreSQL runs on the same machine. Machines are shared "
        "and noisy: compare the ratios, measured side by side in one run, not the absolute "
        "numbers.",
    ]
    if bench.load_start > 1 or max(bench.load_max, load_end) > (os.cpu_count() or 1) + 1:
        lines.append("**Warning: the machine was busy**: the numbers are inflated and noisy.")
    lines += ["", *table(bench)]
    found = comparison(bench)
    if found:
        lines += ["", "Comparison (rows/s, medians):", *found]
    steps = breakdown(bench)
    if steps:
        lines += ["", "Steps:", *steps]
    if bench.profile:
        lines += ["", "Where Headwater's export spends its time (one more round, in-process):"]
        lines += bench.profile
    lines += ["", "Checks (PostgreSQL, after every phase):", *[f"- {c}" for c in bench.checks]]
    lines += ["", "Set-up:", *[f"- {f}" for f in bench.facts]]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="orders exported")
    parser.add_argument("--sf", type=float, default=1, help="TPC-H scale factor of the data")
    parser.add_argument("--runs", type=int, default=3, help="rounds (medians reported)")
    parser.add_argument(
        "--tools",
        type=lambda text: text.split(","),
        default=["floor", "headwater"],
        help="arms, comma-separated (floor,headwater)",
    )
    parser.add_argument("--profile", action="store_true", help="time Headwater's steps")
    parser.add_argument("--out", type=Path, help="write the markdown report here")
    parser.add_argument("--json", type=Path, help="write the samples as JSON here")
    args = parser.parse_args()
    command = " ".join([".venv/bin/python bench/exports/run.py", *sys.argv[1:]])
    bench = Bench(args)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    project, csv = WORK / "project", WORK / "orders.csv"
    write_project(project)
    base = prepare_base(bench)
    bench.facts.append(
        f"data: the first {args.rows:,} orders by key of TPC-H SF{tpch_data.sf_label(args.sf)} "
        "(tpchgen-cli), 9 columns; the floor's CSV is written by DuckDB from the same Parquet "
        "file the model reads (untimed)"
    )
    try:
        start_server(bench)
        for round_ in range(args.runs):
            print(f"round {round_ + 1} of {args.runs}", flush=True)
            one_round(bench, base, project, csv, round_)
        if args.profile:
            profile_export(bench, base, project, csv)
    finally:
        if bench.server is not None:
            bench.server.stop()
    text = report(bench, command)
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.json:
        samples = {
            f"{tool}/{phase}": [s.__dict__ for s in found]
            for (tool, phase), found in bench.samples.items()
        }
        args.json.write_text(json.dumps(samples, indent=2, default=str))
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()

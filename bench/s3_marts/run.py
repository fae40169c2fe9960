"""Run the TPC-H marts with the warehouse on S3 beside the same build on local disk.

The DuckDB engine builds the TPC-H marts project of `bench/tpch_marts/models/` (8 staging views
over the raw Parquet on local disk, 6 marts as Delta tables) twice per round:

- **local**: `warehouse: warehouse`, the Delta tables on local disk;
- **s3**: `warehouse: s3://<bucket>/<fresh prefix>`, the Delta tables on a local S3-compatible
  server (moto's, `moto[server]` from PyPI, started by this runner on 127.0.0.1 as the tests
  do), reached through the `AWS_*` environment variables only.

Timed, each a fresh process from outside (wall time, peak RSS of its process tree):
- the full build, `headwater run --threads 2`, in a fresh project (and a fresh S3 prefix);
- reads of a mart after the build: `headwater query` (a cold process: start-up, project load,
  opening the table, the query) of an aggregate over `marts.customer_revenue` (100,000 rows at
  SF1), and of every row of it as CSV;
- the same queries inside one process through the Python API (`Project.query`), first call and
  the median of the next ones (`read_probe.py`), so the read path shows without process start.

The builds' marts on S3 are checked against the local ones (row counts and column sums) and
the two query answers against each other. Written as markdown to `bench/results/s3_marts.md`.

moto keeps every object in memory and answers over HTTP on the same machine: the figures show
what the S3 route costs in Headwater (requests, staging, conditional puts), not a network.

Usage: python bench/s3_marts/run.py [--sf 1] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import statistics
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH / "streaming"))
sys.path.insert(0, str(REPO))

import measure  # noqa: E402  (bench/streaming/measure.py: wall time and process-tree RSS)
import tpch_data  # noqa: E402
from tests.support.s3 import S3Server, start_s3_server  # noqa: E402

WORK = BENCH / ".work" / "s3_marts"
RESULTS = BENCH / "results" / "s3_marts.md"
PYTHON = REPO / ".venv" / "bin" / "python"
HEADWATER = REPO / ".venv" / "bin" / "headwater"
DASH, TIMES = "\u2013", "\u00d7"
AGGREGATE = (
    "select count(*) as customers, sum(order_count) as orders, sum(revenue) as revenue, "
    "min(first_order_date) as first, max(last_order_date) as last from marts.customer_revenue"
)
FULL_READ = "select * from marts.customer_revenue order by custkey"
PLACES = ("local", "s3")


def _load(name: str, path: Path) -> ModuleType:
    """Import the module file `path` as `name` (bench folders are not packages)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


marts_bench = _load("tpch_marts_run", BENCH / "tpch_marts" / "run.py")
MARTS: list[str] = marts_bench.MARTS


class RunFailed(Exception):
    """A benchmarked command exited non-zero."""


@dataclass
class Sample:
    """One timed run."""

    wall: float
    rss_mb: float
    report: dict[str, Any]


@dataclass
class Row:
    """One measurement of one place."""

    place: str
    what: str
    samples: list[Sample] = field(default_factory=list)
    failed: str | None = None


@dataclass
class Bench:
    """Settings and results of one session."""

    sf: float
    runs: int
    data: Path
    server: S3Server
    bucket: str
    lineitem_rows: int = 0
    rows: dict[tuple[str, str], Row] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    load_start: tuple[float, ...] = field(default_factory=os.getloadavg)
    answers: dict[tuple[str, str], str] = field(default_factory=dict)
    """The last output of each query per place, compared between the places."""


def fresh(path: Path) -> Path:
    """Empty and recreate a folder."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def run(bench: Bench, cmd: list[str]) -> tuple[Sample, str]:
    """Run `cmd` with the S3 server's environment; its figures and its standard output."""
    done = measure.run(cmd, env={**os.environ, **bench.server.environment()})
    why = None
    if done.returncode != 0:
        # the tool's own message is on stdout (Spark's log lines fill stderr)
        tail = "\n".join(
            [*done.stdout.strip().splitlines()[-8:], *done.stderr.strip().splitlines()[-4:]]
        )
        why = f"exit code {done.returncode}: {tail}"
    if why:
        raise RunFailed(f"{' '.join(cmd)}: {why}")
    return Sample(done.wall_s, done.peak_rss_mb, done.report), done.stdout


# ---------------------------------------------------------------- projects


def warehouse(bench: Bench, place: str) -> str:
    """A fresh warehouse location: a folder, or a new prefix in the bucket."""
    if place == "local":
        return "warehouse"
    return f"s3://{bench.bucket}/wh-{uuid.uuid4().hex[:10]}"


def project(bench: Bench, place: str) -> Path:
    """A fresh copy of the marts project for `place`, on the DuckDB engine."""
    root = fresh(WORK / place / "project")
    shutil.copytree(marts_bench.MODELS_DIR, root / "models")
    (root / "headwater.yml").write_text(
        f"name: tpch\nwarehouse: {warehouse(bench, place)}\nvars:\n  tpch_dir: {bench.data}\n"
    )
    return root


def built(place: str) -> Path:
    """The project of `place` that the last build wrote."""
    return WORK / place / "project"


# ---------------------------------------------------------------- the measurements

Step = Callable[[Bench, str], list[str]]


def build_cmd(bench: Bench, place: str) -> list[str]:
    """`headwater run --threads 2` of a fresh project."""
    return [str(HEADWATER), "run", "--project", str(project(bench, place)), "--threads", "2"]


def query_cmd(sql: str, fmt: str) -> Step:
    """`headwater query SQL` of the last built project."""

    def cmd(bench: Bench, place: str) -> list[str]:
        where = str(built(place))
        return [str(HEADWATER), "query", sql, "--project", where, "--format", fmt]

    return cmd


def probe_cmd(bench: Bench, place: str) -> list[str]:
    """The in-process read probe over the last built project."""
    return [str(PYTHON), str(HERE / "read_probe.py"), str(built(place)), AGGREGATE, FULL_READ]


STEPS: list[tuple[str, str, Step]] = [
    ("build", "full build, `headwater run --threads 2`", build_cmd),
    (
        "aggregate",
        "`headwater query`: an aggregate of marts.customer_revenue",
        query_cmd(AGGREGATE, "csv"),
    ),
    (
        "full",
        "`headwater query`: every row of marts.customer_revenue as CSV",
        query_cmd(FULL_READ, "csv"),
    ),
    ("probe", "in process: `Project.query`, first and next calls", probe_cmd),
]


def step(bench: Bench, key: str, place: str, make: Step, timed: bool) -> bool:
    """Run one step at one place; False when it failed."""
    row = bench.rows[(key, place)]
    if row.failed:
        return False
    try:
        sample, out = run(bench, make(bench, place))
    except RunFailed as exc:
        row.failed = str(exc).splitlines()[0][:300]
        bench.notes.append(f"**{place} {key} failed**: `{str(exc)[-600:]}`".replace("\n", " / "))
        print(f"  {place} {key} FAILED: {exc}")
        return False
    if key in ("aggregate", "full"):
        bench.answers[(key, place)] = out
    if timed:
        row.samples.append(sample)
    own = ", ".join(f"{k} {v:.3f}" for k, v in sample.report.items() if isinstance(v, float))
    label = "" if timed else " (warm-up)"
    print(f"  {place} {key}{label}: {sample.wall:.2f} s, {sample.rss_mb:.0f} MiB {own}")
    return True


def check(bench: Bench) -> None:
    """Compare the marts and the query answers of S3 with local disk's."""
    local = marts_bench.delta_checksums(built("local") / "warehouse", MARTS)
    remote = s3_checksums(bench)
    bad = [name for name in MARTS if local.get(name) != remote.get(name)]
    if bad or not local:
        bench.notes.append(f"**marts on S3 differ from local disk's**: {', '.join(bad)}")
    else:
        bench.notes.append(
            f"All {len(MARTS)} marts on S3 equal those on local disk (row counts, column sums)."
        )
    for key in ("aggregate", "full"):
        if (key, "local") in bench.answers and (key, "s3") in bench.answers:
            equal = bench.answers[(key, "local")] == bench.answers[(key, "s3")]
            verdict = "identical" if equal else "**different**"
            bench.notes.append(f"`headwater query` {key}: output on S3 and local disk {verdict}.")


def s3_checksums(bench: Bench) -> dict[str, tuple[object, ...]]:
    """Checksums of the marts of the last S3 build, read with delta-rs."""
    import duckdb
    from deltalake import DeltaTable

    text = (built("s3") / "headwater.yml").read_text()
    uri = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("warehouse"))
    env = bench.server.environment()
    options = {
        "AWS_ENDPOINT_URL": env["AWS_ENDPOINT_URL"],
        "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
        "AWS_REGION": env["AWS_REGION"],
        "AWS_ALLOW_HTTP": "true",
    }
    con = duckdb.connect()
    sums = {}
    for name in MARTS:
        table = DeltaTable(f"{uri}/marts/{name}", storage_options=options).to_pyarrow_table()
        con.register("arrow_table", table)
        sums[name] = marts_bench.checksum(con, "arrow_table")
        con.unregister("arrow_table")
    return sums


def measure_all(bench: Bench) -> None:
    """A checked warm-up round, then `bench.runs` rounds, the places taking turns."""
    for key, what, _ in STEPS:
        for place in PLACES:
            bench.rows[(key, place)] = Row(place, what)
    print("== warm-up (untimed, results checked)")
    for place in PLACES:
        for key, _, make in STEPS:
            if not step(bench, key, place, make, timed=False):
                break
    if all(not bench.rows[("build", p)].failed for p in PLACES):
        check(bench)
    for i in range(bench.runs):
        print(f"== round {i + 1} of {bench.runs}")
        for place in PLACES:
            for key, _, make in STEPS:
                if not step(bench, key, place, make, timed=True):
                    break


# ---------------------------------------------------------------- reporting


READ_ROUTE = (
    "DuckDB reads an S3 table's snapshot as a pyarrow dataset over pyarrow's `S3FileSystem` "
    "(one fragment per file of the snapshot, registered in DuckDB: "
    "`S3DeltaStore.arrow_dataset`, `engine/duckdb.py`); `read_parquet('s3://...')` of single "
    "files (merges, partition rebuilds) goes through an fsspec filesystem over the same pyarrow "
    "one, registered with DuckDB's `register_filesystem`. No `httpfs`."
)


def table(bench: Bench) -> list[str]:
    """The results as markdown lines."""
    lines = [
        f"| what was timed | warehouse | runs | median s | min{DASH}max s | peak RSS MiB "
        f"| S3 {TIMES} local (median) | S3 {TIMES} local (min) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, what, _ in STEPS:
        local = bench.rows[(key, "local")]
        for place in PLACES:
            row = bench.rows[(key, place)]
            if row.failed or not row.samples:
                why = f"failed: {row.failed}" if row.failed else "not run (an earlier step failed)"
                lines.append(f"| {what} | {place} | 0 | {why} | | | | |")
                continue
            walls = [s.wall for s in row.samples]
            ref = [s.wall for s in local.samples]
            to_med = to_min = DASH
            if place == "s3" and ref:
                to_med = f"{statistics.median(walls) / statistics.median(ref):.2f}{TIMES}"
                to_min = f"{min(walls) / min(ref):.2f}{TIMES}"
            lines.append(
                f"| {what} | {place} | {len(walls)} | {statistics.median(walls):.2f} | "
                f"{min(walls):.2f}{DASH}{max(walls):.2f} | "
                f"{max(s.rss_mb for s in row.samples):.0f} | {to_med} | {to_min} |"
            )
    lines.extend(probe_lines(bench))
    return lines


def probe_lines(bench: Bench) -> list[str]:
    """The in-process query times of the probe, per place, as a second table."""
    lines = [
        "",
        "In one process (`read_probe.py`: `Project.query`, the first call opens the table, "
        "then the median of 5 more; medians over the runs):",
        "",
        f"| query | local: first / next s | S3: first / next s | S3 {TIMES} local: first / next |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, key in (
        ("aggregate of marts.customer_revenue", "aggregate"),
        ("every row of marts.customer_revenue to Arrow", "full"),
    ):
        got: dict[str, tuple[float, float]] = {}
        for place in PLACES:
            samples = bench.rows[("probe", place)].samples
            if samples and all(f"{key}_first_s" in s.report for s in samples):
                got[place] = (
                    statistics.median(float(s.report[f"{key}_first_s"]) for s in samples),
                    statistics.median(float(s.report[f"{key}_next_s"]) for s in samples),
                )
        if len(got) == len(PLACES):
            (lf, ln), (sf, sn) = got["local"], got["s3"]
            lines.append(
                f"| {label} | {lf:.3f} / {ln:.3f} | {sf:.3f} / {sn:.3f} | "
                f"{sf / lf:.2f}{TIMES} / {sn / ln:.2f}{TIMES} |"
            )
    return lines if len(lines) > 5 else []


def versions() -> str:
    """Versions of what was measured."""
    parts = []
    for package in ("duckdb", "deltalake", "pyarrow", "fsspec", "s3fs", "moto", "headwater"):
        try:
            parts.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ", ".join(parts)


def report(bench: Bench, command: str) -> str:
    """The whole markdown report."""
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    start = " ".join(f"{x:.1f}" for x in bench.load_start)
    end = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join(
        [
            "# TPC-H marts with the warehouse on S3 (DuckDB engine)",
            "",
            f"{now}, TPC-H sf{tpch_data.sf_label(bench.sf)} ({bench.lineitem_rows:,} line "
            f"items), {os.cpu_count()} cores, {mem:.0f} GiB, Python "
            f"{platform.python_version()}; {versions()}.",
            f"Command: `{command}`. Machines are shared and noisy (load average {start} at the "
            f"start, {end} at the end): compare the ratios, and prefer the min.",
            "",
            *table(bench),
            "",
            "- local: `warehouse: warehouse` (local disk); S3: `warehouse: s3://<bucket>/<new "
            "prefix>` on moto's S3 server on 127.0.0.1 (objects in memory, HTTP), reached "
            "through `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, "
            "`AWS_REGION` and `AWS_ALLOW_HTTP` in the environment.",
            "- The raw TPC-H Parquet stays on local disk in both (the staging views read it); "
            "the six marts are written to, and read from, the warehouse.",
            f"- Read route: {READ_ROUTE}",
            *[f"- {note}" for note in bench.notes],
            "",
        ]
    )


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sf", type=float, default=1, help="TPC-H scale factor (default 1)")
    parser.add_argument("--runs", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="markdown results file")
    args = parser.parse_args()

    import duckdb

    data = tpch_data.generate(args.sf)
    server = start_s3_server()
    try:
        bucket = f"hw-bench-{uuid.uuid4().hex[:10]}"
        server.client().create_bucket(Bucket=bucket)
        bench = Bench(args.sf, args.runs, data, server, bucket)
        [(bench.lineitem_rows,)] = duckdb.sql(
            f"select count(*) from '{data}/lineitem.parquet'"
        ).fetchall()
        measure_all(bench)
    finally:
        server.stop()
    command = "python " + " ".join(
        [str(Path(sys.argv[0]).resolve().relative_to(REPO)), *sys.argv[1:]]
    )
    text = report(bench, command)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()

"""Run the TPC-H marts benchmark: the floor, dbt-duckdb and Headwater, side by side.

Each build runs as a subprocess under `/usr/bin/time -v` (wall time, peak RSS) in a fresh
folder under `bench/.work/tpch_marts/`. Every tool first does one untimed warm-up build, whose
marts are checked against the floor's; then N timed builds (default 5, or 3 when a warm-up took
10 s or more), the tools taking turns so that the load of a shared machine hits all alike.
Printed as a markdown table and written to `bench/results/tpch_marts.md`.

Timed:
- full build of the 14 models by each tool;
- Headwater: a no-op rerun (must report up to date) and `headwater --help` (beside `dbt --help`);
- incremental variant: ~1 % new orders and line items (files `orders_new.parquet`,
  `lineitem_new.parquet` added beside the base files, read through the staging globs), then
  `customer_revenue_inc` incremental vs `--full-refresh`, in Headwater and dbt-duckdb, beside
  the floor rebuilding `customer_revenue` on the grown data.

A tool that is not installed is skipped with a message; a failing tool is reported, not fatal.

Usage: python bench/tpch_marts/run.py [--sf 1] [--runs N] [--tools floor,dbt,headwater]
                                      [--no-incremental] [--install-dbt]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
REPO = BENCH.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(BENCH))

import make_dbt_project  # noqa: E402
import tpch_data  # noqa: E402
from common import INCREMENTAL_DIR, MODELS_DIR, load_models, substitute_vars  # noqa: E402

WORK = BENCH / ".work" / "tpch_marts"
RESULTS = BENCH / "results" / "tpch_marts.md"
PYTHON = REPO / ".venv" / "bin" / "python"
DBT_VENV = BENCH / ".venvs" / "dbt"
DBT = DBT_VENV / "bin" / "dbt"
TIME = Path("/usr/bin/time")
MARTS = [m.name for m in load_models() if m.namespace == "marts"]
INC_MODEL = "customer_revenue_inc"
DASH, TIMES = "\u2013", "\u00d7"  # en dash, multiplication sign


class RunFailed(Exception):
    """A benchmarked command exited non-zero."""


@dataclass
class HeadwaterCli:
    """How to call Headwater: the executable, and where its `--project` option goes."""

    exe: Path = REPO / ".venv" / "bin" / "headwater"
    project_first: bool = False
    """True when `--project` is an option of `headwater` itself rather than of `run`."""


HEADWATER = HeadwaterCli()


@dataclass
class Sample:
    """One timed run."""

    wall: float
    rss_mb: float


@dataclass
class Row:
    """One line of the results table."""

    tool: str
    what: str
    floor_ref: str | None = None
    """Key of the floor's row this one is compared with."""
    dbt_ref: str | None = None
    """Key of dbt-duckdb's row this one is compared with."""
    rows: int | None = None
    """Rows processed, for a rows/s figure."""
    samples: list[Sample] = field(default_factory=list)
    failed: str | None = None
    wrong: bool = False
    """A result differed from the reference."""
    model_times: list[float] = field(default_factory=list)
    """Headwater: the model's own build time, as the catalog recorded it (no process start)."""


@dataclass
class Bench:
    """Settings and collected results of one benchmark session."""

    sf: float
    runs: int | None
    data: Path
    lineitem_rows: int
    rows: dict[str, Row] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    slowest_warmup: float = 0.0
    """Wall time of the slowest warm-up full build; sets the default number of runs."""
    load_start: str = field(default_factory=lambda: " ".join(f"{x:.1f}" for x in os.getloadavg()))
    floor_sums: dict[str, tuple[object, ...]] = field(default_factory=dict)
    """Checksums of the floor's marts, which the other tools' marts must equal."""

    def count(self, warmup_wall: float) -> int:
        """Timed repetitions: --runs, else 5 for builds under 10 s and 3 otherwise."""
        return self.runs or (5 if warmup_wall < 10 else 3)


# ---------------------------------------------------------------- measuring

Checksum = tuple[object, ...]


@dataclass
class Call:
    """A command line to benchmark, with its working folder and extra environment."""

    cmd: list[str]
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)


def measure(call: Call) -> tuple[Sample, str]:
    """Run `call` under /usr/bin/time -v; return wall time, peak RSS and combined output."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        started = time.perf_counter()
        proc = subprocess.run(
            [str(TIME), "-v", "-o", tf.name, *call.cmd],
            cwd=call.cwd,
            env={**os.environ, **call.env},
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        report = tf.read()
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise RunFailed(f"exit {proc.returncode}: {' '.join(call.cmd)}\n{tail}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    return Sample(wall, int(found.group(1)) / 1024 if found else float("nan")), output


def fresh(path: Path) -> Path:
    """Empty and recreate a folder."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@dataclass
class Subject:
    """One measurement: a results row and how to make a fresh call for each repetition."""

    row: Row
    make_call: Callable[[], Call]


def round_robin(bench: Bench, subjects: list[Subject], n: int) -> None:
    """Time every subject n times, taking turns, so load drifting on a shared machine hits
    all of them alike. A subject whose command fails is reported and dropped."""
    for i in range(n):
        for subject in subjects:
            row = subject.row
            if row.failed:
                continue
            try:
                sample, _ = measure(subject.make_call())
            except RunFailed as exc:
                fail(bench, row, exc)
                continue
            row.samples.append(sample)
            print(f"  {row.tool} {row.what} #{i + 1}: {sample.wall:.2f} s, {sample.rss_mb:.0f} MiB")


def fail(bench: Bench, row: Row, exc: RunFailed) -> None:
    """Record a failed command on its row and in the notes."""
    row.failed = str(exc).splitlines()[0]
    print(f"  {row.tool} {row.what} FAILED: {exc}")
    detail = str(exc).replace("\n", " / ")
    bench.notes.append(f"**{row.tool} {row.what} failed**: `{detail}`")


# ---------------------------------------------------------------- checking results


def checksum(con: Any, relation: str) -> Checksum:
    """Row count plus, per column, a sum (numbers, 9 significant digits) or a distinct count."""
    described = con.sql(f"describe select * from {relation}").fetchall()
    parts = ["count(*)"]
    for name, dtype, *_ in described:
        numeric = re.match(r"(DECIMAL|BIGINT|INTEGER|HUGEINT|DOUBLE|FLOAT|SMALLINT)", dtype)
        parts.append(f'sum("{name}")::double' if numeric else f'count(distinct "{name}")')
    values = con.sql(f"select {', '.join(parts)} from {relation}").fetchall()[0]
    return tuple(float(f"{v:.9g}") if isinstance(v, float) else v for v in values)


def delta_checksums(root: Path, names: list[str]) -> dict[str, Checksum]:
    """Checksums of the Delta tables named `names` found anywhere under `root`."""
    import duckdb
    from deltalake import DeltaTable

    found = {p.parent.name: p.parent for p in root.rglob("_delta_log")}
    con = duckdb.connect()
    sums = {}
    for name in names:
        if name in found:
            con.register("arrow_table", DeltaTable(str(found[name])).to_pyarrow_table())
            sums[name] = checksum(con, "arrow_table")
            con.unregister("arrow_table")
    return sums


def duckdb_checksums(db: Path, names: list[str]) -> dict[str, Checksum]:
    """Checksums of tables in the DuckDB file dbt-duckdb wrote."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    return {name: checksum(con, f"main.{name}") for name in names}


def reference_customer_revenue(data: Path) -> Checksum:
    """Checksum of marts.customer_revenue computed directly over `data` (no tool involved)."""
    import duckdb

    con = duckdb.connect()
    con.sql("create schema staging")
    for model in load_models():
        if model.namespace == "staging":
            sql = substitute_vars(model.sql, {"tpch_dir": str(data)})
            con.sql(f"create view {model.key} as {sql}")
    mart = next(m for m in load_models() if m.key == "marts.customer_revenue")
    con.sql(f"create table r as {mart.sql}")
    return checksum(con, "r")


def compare(bench: Bench, tool: str, got: dict[str, Checksum]) -> None:
    """Note whether a tool's marts equal the floor's."""
    want = bench.floor_sums
    if not want:
        return
    bad = [n for n in want if got.get(n) != want[n]]
    if bad:
        bench.notes.append(f"**{tool} marts differ from the floor's**: {', '.join(bad)}")
        for n in bad:
            print(f"  {n}: floor {want[n]} vs {tool} {got.get(n)}")
    else:
        bench.notes.append(f"{tool}: all {len(want)} marts equal the floor's (row counts, sums).")


# ---------------------------------------------------------------- the tools


def headwater_project(root: Path, data: Path, with_incremental: bool = False) -> Path:
    """Copy the models to `root/project` and write its headwater.yml."""
    project = fresh(root / "project")
    shutil.copytree(MODELS_DIR, project / "models")
    if with_incremental:
        shutil.copytree(INCREMENTAL_DIR, project / "models", dirs_exist_ok=True)
    (project / "headwater.yml").write_text(
        f"name: tpch\nwarehouse: warehouse\nvars:\n  tpch_dir: {data}\n"
    )
    return project


def headwater_run(project: Path, *extra: str) -> Call:
    """`headwater run` on `project`."""
    where = ["--project", str(project)]
    run = [*where, "run"] if HEADWATER.project_first else ["run", *where]
    return Call([str(HEADWATER.exe), *run, "--threads", "2", *extra])


def dbt_run(root: Path, data: Path, *extra: str) -> Call:
    """`dbt run` writing into `root`: its DuckDB file, target and log folders; no telemetry."""
    env = {
        "DBT_DUCKDB_PATH": str(root / "tpch.duckdb"),
        "DBT_TARGET_PATH": str(root / "target"),
        "DBT_LOG_PATH": str(root / "logs"),
        "DBT_PROFILES_DIR": str(make_dbt_project.DBT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    cmd = [str(DBT), "run", "--vars", f"{{tpch_dir: '{data}'}}", *extra]
    return Call(cmd, cwd=make_dbt_project.DBT_DIR, env=env)


def floor_run(data: Path, out: Path, *extra: str) -> Call:
    """The floor script."""
    cmd = [str(PYTHON), str(HERE / "floor.py"), "--data", str(data), "--out", str(out), *extra]
    return Call(cmd)


def full_builds(bench: Bench, tools: list[str]) -> None:
    """Full build of the 14 models by each tool, then Headwater's no-op rerun and --help."""
    roots = {tool: WORK / tool for tool in tools}
    calls: dict[str, Callable[[], Call]] = {
        "floor": lambda: floor_run(bench.data, fresh(roots["floor"]) / "out"),
        "dbt": lambda: dbt_run(fresh(roots["dbt"]), bench.data, "--exclude", INC_MODEL),
        "headwater": lambda: headwater_run(
            headwater_project(fresh(roots["headwater"]), bench.data)
        ),
    }
    refs = {"floor": (None, None), "dbt": ("floor", None), "headwater": ("floor", "dbt")}
    subjects, slowest = [], 0.0
    for tool in tools:
        label = "dbt-duckdb" if tool == "dbt" else tool
        row = bench.rows[tool] = Row(label, "full build", *refs[tool], rows=bench.lineitem_rows)
        print(f"== {tool}: warm-up build")
        try:
            warm, _ = measure(calls[tool]())
        except RunFailed as exc:
            fail(bench, row, exc)
            continue
        slowest = max(slowest, warm.wall)
        if tool == "floor":
            bench.floor_sums = delta_checksums(roots[tool], MARTS)
        elif tool == "dbt":
            compare(bench, "dbt-duckdb", duckdb_checksums(roots[tool] / "tpch.duckdb", MARTS))
        else:
            compare(bench, "headwater", delta_checksums(roots[tool], MARTS))
        subjects.append(Subject(row, calls[tool]))
    print("== full builds, tools taking turns")
    bench.slowest_warmup = slowest
    round_robin(bench, subjects, bench.count(slowest))

    extras = []
    if "dbt" in tools:
        row = bench.rows["dbt-help"] = Row("dbt-duckdb", "`dbt --help`")
        extras.append(Subject(row, lambda: Call([str(DBT), "--help"])))
    if "headwater" in tools and not bench.rows["headwater"].failed:
        project = roots["headwater"] / "project"
        row = bench.rows["headwater-noop"] = Row("headwater", "no-op rerun (nothing changed)")
        try:
            _, output = measure(headwater_run(project))
            said = re.search(r"up.to.date", output, re.IGNORECASE) is not None
            last = output.strip().splitlines()[-1] if output.strip() else ""
            bench.notes.append(
                f"headwater no-op rerun reported up to date: {'yes' if said else '**no**'} "
                f"(last line: `{last}`)."
            )
            extras.append(Subject(row, lambda: headwater_run(project)))
        except RunFailed as exc:
            fail(bench, row, exc)
    if "headwater" in tools:
        row = bench.rows["headwater-help"] = Row(
            "headwater", "`headwater --help`", None, "dbt-help"
        )
        extras.append(Subject(row, lambda: Call([str(HEADWATER.exe), "--help"])))
    print("== no-op rerun and --help")
    round_robin(bench, extras, 5)


def incremental_data(root: Path, sf: float, grown: bool) -> Path:
    """A data folder of symlinks to the base files, plus the increment when `grown`."""
    data = fresh(root / "data")
    files = list(tpch_data.data_dir(sf).glob("*.parquet"))
    if grown:
        files += list(tpch_data.increment_dir(sf).glob("*.parquet"))
    for f in files:
        (data / f.name).symlink_to(f)
    return data


def incremental_rep(bench: Bench, tool: str, want: Checksum) -> None:
    """One repetition: full build, add the increment, time the incremental run, then the
    full refresh of customer_revenue_inc; check each result against `want`."""
    root = fresh(WORK / f"inc-{tool}")
    data = incremental_data(root, bench.sf, grown=False)
    if tool == "dbt":
        setup = dbt_run(root, data)
        run_inc = dbt_run(root, data, "--select", INC_MODEL)
    else:
        project = headwater_project(root, data, with_incremental=True)
        setup = headwater_run(project)
        run_inc = headwater_run(project, "--select", f"marts.{INC_MODEL}")
    run_full = Call([*run_inc.cmd, "--full-refresh"], run_inc.cwd, run_inc.env)
    measure(setup)
    for f in tpch_data.increment_dir(bench.sf).glob("*.parquet"):
        (data / f.name).symlink_to(f)
    for key, call in ((f"inc-{tool}", run_inc), (f"full-{tool}", run_full)):
        row = bench.rows[key]
        sample, _ = measure(call)
        row.samples.append(sample)
        if tool == "dbt":
            got = duckdb_checksums(root / "tpch.duckdb", [INC_MODEL]).get(INC_MODEL)
        else:
            got = delta_checksums(root, [INC_MODEL]).get(INC_MODEL)
            row.model_times.append(model_time(root / "project", f"marts.{INC_MODEL}"))
        verdict = "correct" if got == want else "WRONG"
        print(f"  {row.tool} {row.what}: {sample.wall:.2f} s, {sample.rss_mb:.0f} MiB, {verdict}")
        if got != want:
            row.wrong = True


def model_time(project: Path, asset: str) -> float:
    """The build time the catalog recorded for `asset`'s latest successful build."""
    import sqlite3

    with sqlite3.connect(project / ".headwater" / "catalog.db") as connection:
        (seconds,) = connection.execute(
            "SELECT duration_s FROM hw_asset_results WHERE asset = ? AND status = 'success' "
            "ORDER BY id DESC LIMIT 1",
            (asset,),
        ).fetchone()
    return float(seconds)


def incremental(bench: Bench, tools: list[str]) -> None:
    """customer_revenue_inc: incremental run vs full refresh after adding ~1 % new orders,
    beside the floor rebuilding customer_revenue on the grown data; tools take turns."""
    want = reference_customer_revenue(incremental_data(WORK / "reference", bench.sf, grown=True))
    n = bench.count(bench.slowest_warmup)
    floor_root = WORK / "inc-floor"

    def floor_call() -> Call:
        data = incremental_data(fresh(floor_root), bench.sf, grown=True)
        return floor_run(data, floor_root / "out", "--select", "marts.customer_revenue")

    floor = Subject(Row("floor", "customer_revenue rebuild on grown data"), floor_call)
    if "floor" in tools:
        bench.rows["inc-floor"] = floor.row
    peers = [t for t in tools if t != "floor" and not bench.rows[t].failed]
    for tool in peers:
        label = "dbt-duckdb" if tool == "dbt" else "headwater"
        dbt_inc, dbt_full = ("inc-dbt", "full-dbt") if tool != "dbt" else (None, None)
        what = f"{INC_MODEL} incremental (+1 %)"
        bench.rows[f"inc-{tool}"] = Row(label, what, "inc-floor", dbt_inc)
        what = f"{INC_MODEL} --full-refresh"
        bench.rows[f"full-{tool}"] = Row(label, what, "inc-floor", dbt_full)
    for i in range(n):
        print(f"== incremental, round {i + 1}")
        if "floor" in tools:
            round_robin(bench, [floor], 1)
        for tool in peers:
            inc, full = bench.rows[f"inc-{tool}"], bench.rows[f"full-{tool}"]
            if inc.failed:
                continue
            try:
                incremental_rep(bench, tool, want)
            except RunFailed as exc:
                fail(bench, inc, exc)
                full.failed = inc.failed
    for tool in peers:
        inc, full = bench.rows[f"inc-{tool}"], bench.rows[f"full-{tool}"]
        if inc.failed:
            continue
        checked = "**a result was wrong**" if inc.wrong or full.wrong else "every result correct"
        bench.notes.append(
            f"{inc.tool}: incremental run / its full refresh = {ratio(inc, f'full-{tool}', bench)}"
            f"; {checked} (checked against a direct recompute on the grown data)."
        )
        if inc.model_times and full.model_times:
            mine = statistics.median(inc.model_times)
            theirs = statistics.median(full.model_times)
            bench.notes.append(
                f"{inc.tool}: model build time (catalog, median) incremental {mine:.3f} s "
                f"(min-max {min(inc.model_times):.3f}-{max(inc.model_times):.3f}) vs "
                f"--full-refresh {theirs:.3f} s "
                f"({min(full.model_times):.3f}-{max(full.model_times):.3f}) = "
                f"**{100 * mine / theirs:.0f} %**."
            )


# ---------------------------------------------------------------- reporting


def versions() -> str:
    """Versions of the tools benchmarked."""
    parts = [f"duckdb {importlib.metadata.version('duckdb')}"]
    parts.append(f"deltalake {importlib.metadata.version('deltalake')}")
    try:
        parts.append(f"headwater {importlib.metadata.version('headwater')}")
    except importlib.metadata.PackageNotFoundError:
        parts.append("headwater not installed")
    if DBT.exists():
        code = (
            "import importlib.metadata as m; print(' '.join(f'{p} {m.version(p)}' "
            "for p in ('dbt-core', 'dbt-duckdb', 'duckdb')))"
        )
        out = subprocess.run(
            [str(DBT_VENV / "bin" / "python"), "-c", code],
            capture_output=True,
            text=True,
            check=False,
        )
        parts.append(f"dbt venv: {out.stdout.strip()}")
    return ", ".join(parts)


def ratio(row: Row, ref: str | None, bench: Bench) -> str:
    """Median of `row` over the median of the row named `ref`, or a dash."""
    other = bench.rows.get(ref) if ref else None
    if not other or not other.samples or not row.samples:
        return DASH
    mine = statistics.median(s.wall for s in row.samples)
    theirs = statistics.median(s.wall for s in other.samples)
    return f"{mine / theirs:.2f}{TIMES}"


def table(bench: Bench) -> str:
    """The results as a markdown table."""
    lines = [
        f"| tool | what was timed | runs | median s | min{DASH}max s | peak RSS MiB (max) "
        f"| lineitem rows/s | {TIMES} floor | {TIMES} dbt-duckdb |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in bench.rows.values():
        if row.failed or not row.samples:
            lines.append(
                f"| {row.tool} | {row.what} | 0 | failed: {row.failed or 'no runs'} | | | | | |"
            )
            continue
        walls = [s.wall for s in row.samples]
        med = statistics.median(walls)
        rss = max(s.rss_mb for s in row.samples)
        rate = f"{row.rows / med / 1e6:.2f} M" if row.rows else DASH
        lines.append(
            f"| {row.tool} | {row.what} | {len(walls)} | {med:.2f} | {min(walls):.2f}{DASH}"
            f"{max(walls):.2f} | {rss:.0f} | {rate} | {ratio(row, row.floor_ref, bench)} "
            f"| {ratio(row, row.dbt_ref, bench)} |"
        )
    return "\n".join(lines)


def busy_warning(bench: Bench) -> list[str]:
    """A warning line when other work loaded the machine: a 1-min load average above 1 before
    the first run, or above what the benchmark itself adds (cores + 1) at the end."""
    cores = os.cpu_count() or 1
    start, end = float(bench.load_start.split()[0]), os.getloadavg()[0]
    if start <= 1 and end <= cores + 1:
        return []
    return [
        "",
        f"**Warning: the machine was busy** (1-min load average {start:.1f} at the start, "
        f"{end:.1f} at the end, on {cores} cores): the times are inflated and noisy; rerun on a "
        "quiet machine before quoting them.",
    ]


def report(bench: Bench) -> str:
    """The whole markdown report."""
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return "\n".join(
        [
            "# TPC-H marts benchmark",
            "",
            f"{now}, TPC-H sf{tpch_data.sf_label(bench.sf)} ({bench.lineitem_rows:,} line items), "
            f"{os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}; "
            f"{versions()}.",
            "Generated by `bench/tpch_marts/run.py`. Machines are shared and noisy: compare "
            "the ratios, measured side by side in one session, not the absolute times.",
            *busy_warning(bench),
            "",
            table(bench),
            "",
            "- Full build = 8 staging views + 6 marts as tables (q1, q3, q5, q10, "
            "customer_revenue, daily_revenue), same SELECT text in every tool. The floor and "
            "Headwater write Delta tables; dbt-duckdb writes tables into a DuckDB database "
            "file (that is how dbt-duckdb works), so it skips the Parquet/Delta write.",
            "- Each timed run is a fresh process in a fresh output folder (dbt: fresh target "
            "folder, so a full parse each run), wrapped in `/usr/bin/time -v`; one untimed "
            "warm-up run per tool first, then the tools take turns run by run, so a change in "
            f"the machine's load hits all alike (load average {bench.load_start} at the start, "
            f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end). Headwater runs "
            "with `--threads 2`, dbt with 2 threads; the floor is one DuckDB connection "
            "(DuckDB uses both cores) building the marts one after another.",
            "- Incremental: ~1 % new orders (with their line items, keys above the maximum) "
            "are added as extra Parquet files after a full build; the incremental run "
            "aggregates only the orders above the highest loaded order key, adds them to the "
            f"affected customers' totals and merges on custkey. {TIMES} floor compares with "
            f"the floor rebuilding customer_revenue on the grown data; {TIMES} dbt-duckdb with "
            "dbt's run of the same kind.",
            *[f"- {note}" for note in bench.notes],
            "",
        ]
    )


# ---------------------------------------------------------------- main


def available(tool: str, install_dbt: bool) -> str | None:
    """Return why `tool` cannot run, or None when it can."""
    if tool == "dbt" and not DBT.exists():
        if not install_dbt:
            return (
                f"{DBT} not found; create it with `python3 -m venv {DBT_VENV} && "
                f"{DBT_VENV}/bin/pip install 'dbt-core<1.12' dbt-duckdb` or pass --install-dbt"
            )
        subprocess.run([sys.executable, "-m", "venv", str(DBT_VENV)], check=True)
        pip = [str(DBT_VENV / "bin" / "pip"), "install", "-q", "dbt-core<1.12", "dbt-duckdb"]
        subprocess.run(pip, check=True)
    if tool == "headwater":
        exe = str(HEADWATER.exe)
        if not HEADWATER.exe.exists():
            return f"{exe} not found (install the project: `.venv/bin/pip install -e .`)"
        if subprocess.run([exe, "--help"], capture_output=True, check=False).returncode != 0:
            return "`headwater --help` exited non-zero"
        run_help = subprocess.run(
            [exe, "run", "--help"], capture_output=True, text=True, check=False
        )
        HEADWATER.project_first = "--project" not in run_help.stdout
        if HEADWATER.project_first:
            print("note: `headwater run` has no --project; using `headwater --project DIR run`")
    return None


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sf", type=float, default=1, help="TPC-H scale factor (default 1)")
    parser.add_argument("--runs", type=int, help="timed runs per measurement (default 5 or 3)")
    parser.add_argument("--tools", default="floor,dbt,headwater", help="comma-separated")
    parser.add_argument("--no-incremental", action="store_true", help="skip the incremental part")
    parser.add_argument("--install-dbt", action="store_true", help="create the dbt venv if absent")
    parser.add_argument("--out", type=Path, default=RESULTS, help="markdown results file")
    parser.add_argument("--headwater", type=Path, default=HEADWATER.exe, help="its executable")
    args = parser.parse_args()
    HEADWATER.exe = args.headwater
    if not TIME.exists():
        raise SystemExit("/usr/bin/time is missing: `apt-get install -y time`")

    import duckdb

    data = tpch_data.generate(args.sf)
    tpch_data.make_increment(args.sf)
    make_dbt_project.generate()
    con = duckdb.connect()
    [(lineitem_rows,)] = con.sql(f"select count(*) from '{data}/lineitem.parquet'").fetchall()
    bench = Bench(sf=args.sf, runs=args.runs, data=data, lineitem_rows=lineitem_rows)

    tools = []
    for tool in args.tools.split(","):
        why = available(tool, args.install_dbt)
        if why:
            print(f"SKIPPING {tool}: {why}")
            bench.notes.append(f"{tool} skipped: {why}")
        else:
            tools.append(tool)
    full_builds(bench, tools)
    if not args.no_incremental:
        incremental(bench, tools)

    text = report(bench)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()

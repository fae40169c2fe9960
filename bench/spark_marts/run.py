"""Run the "TPC-H marts on Spark" benchmark: Headwater on Spark beside plain PySpark.

The TPC-H marts project of `bench/tpch_marts/models/` (8 staging views, 6 marts as tables):

- **headwater**: `headwater run --threads 2` of a fresh copy of the project whose
  `headwater.yml` says `engine: {type: spark, master: local[2]}`: Spark reads the raw Parquet and
  writes each mart's Parquet files, delta-rs commits them as Delta tables, the publish gate
  audits each (row count and column metrics);
- **pyspark** (the peer, `peer.py`): one PySpark process running the same SELECTs, transpiled
  once by sqlglot with Headwater's own `spark_sql`, over the raw Parquet, writing Parquet, on a
  session configured as Headwater's engine configures its own (`engine/spark_start.py`);
- **pyspark-defaults**: the same peer on Spark's default settings;
- **spark session start** (`peer.py --session-only`): a process that only starts a local
  session (`import pyspark` included) and stops it, timed alone, so that both Spark figures can
  also be given without it;
- **floor** (reference): `bench/tpch_marts/floor.py`, DuckDB + `write_deltalake` in one process.

Every run is a fresh process (a fresh JVM for the Spark ones) writing into a fresh folder under
`bench/.work/spark_marts/`, timed from outside, with the peak RSS of its whole process tree
(Python and its JVM) polled with psutil. Each tool first makes one untimed warm-up build whose
marts are checked against the floor's (row count and column sums); then N rounds (default 3)
in which the tools take turns, so load drifting on a shared machine hits all of them alike.
"Without session start" is the process wall minus the median of the session-start runs (the
same figure for both Spark tools); PySpark's own timer of its work is reported beside it.
Written as markdown to `bench/results/spark_marts.md`.

Usage: python bench/spark_marts/run.py [--sf 1] [--runs 3] [--master local[2]]
                                       [--tools session,floor,pyspark,pyspark-defaults,headwater]
                                       [--conf key=value ...]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import statistics
import sys
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

import measure  # noqa: E402  (bench/streaming/measure.py: wall time and process-tree RSS)
import tpch_data  # noqa: E402

WORK = BENCH / ".work" / "spark_marts"
RESULTS = BENCH / "results" / "spark_marts.md"
PYTHON = REPO / ".venv" / "bin" / "python"
HEADWATER = REPO / ".venv" / "bin" / "headwater"
TOOLS = ("session", "floor", "pyspark", "pyspark-defaults", "headwater")
DASH, TIMES = "\u2013", "\u00d7"


def _load(name: str, path: Path) -> ModuleType:
    """Import the module file `path` as `name` (bench folders are not packages)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# the TPC-H marts runner: its models, checksums and Delta readers
marts_bench = _load("tpch_marts_run", BENCH / "tpch_marts" / "run.py")
MARTS: list[str] = marts_bench.MARTS


class RunFailed(Exception):
    """A benchmarked command exited non-zero."""


@dataclass
class Sample:
    """One timed run: wall time, peak RSS of the process tree, the process's own figures."""

    wall: float
    rss_mb: float
    report: dict[str, Any]


@dataclass
class Row:
    """A tool's measurements."""

    tool: str
    what: str
    samples: list[Sample] = field(default_factory=list)
    failed: str | None = None

    def walls(self) -> list[float]:
        """Wall times of the runs."""
        return [s.wall for s in self.samples]


@dataclass
class Bench:
    """Settings and results of one session."""

    sf: float
    runs: int
    data: Path
    master: str
    settings: dict[str, str]
    lineitem_rows: int = 0
    rows: dict[str, Row] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    floor_sums: dict[str, tuple[object, ...]] = field(default_factory=dict)
    load_start: tuple[float, ...] = field(default_factory=os.getloadavg)


def run(cmd: list[str], cwd: Path | None = None) -> Sample:
    """Run `cmd` to its end; its wall time, peak tree RSS and last JSON line."""
    done = measure.run(cmd, cwd=cwd, env={**os.environ})
    why = None
    if done.returncode != 0:
        # the tool's own message is on stdout (Spark's log lines fill stderr)
        tail = "\n".join(
            [*done.stdout.strip().splitlines()[-8:], *done.stderr.strip().splitlines()[-4:]]
        )
        why = f"exit code {done.returncode}: {tail}"
    if why:
        raise RunFailed(f"{' '.join(cmd)}: {why}")
    return Sample(done.wall_s, done.peak_rss_mb, done.report)


def fresh(path: Path) -> Path:
    """Empty and recreate a folder."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


# ---------------------------------------------------------------- the tools


def engine_settings(master: str) -> dict[str, str]:
    """The settings Headwater's Spark engine starts a session with on `master` (its defaults,
    before `settings:`), so that the peer runs on the same Spark configuration."""
    from headwater.engine.spark_start import LOCAL_DEFAULTS, SESSION_DEFAULTS

    settings = {**LOCAL_DEFAULTS, **SESSION_DEFAULTS}
    found = re.fullmatch(r"local\[(\d+)\]", master)
    if found:
        # the engine's rule for local mode: as many shuffle partitions as cores, at least 2
        settings["spark.sql.shuffle.partitions"] = str(max(2, int(found.group(1))))
    return settings


def conf_args(bench: Bench, like_headwater: bool = True) -> list[str]:
    """The peer's `--master` and `--conf` options: Headwater's engine settings (or Spark's
    defaults) and then the bench's own `--conf`."""
    base = engine_settings(bench.master) if like_headwater else {}
    settings = {**base, **bench.settings}
    return ["--master", bench.master, *(f"--conf={k}={v}" for k, v in settings.items())]


def session_call(bench: Bench) -> Callable[[], list[str]]:
    """A process that starts a Spark session (as the engine configures it) and stops it."""
    return lambda: [str(PYTHON), str(HERE / "peer.py"), "--session-only", *conf_args(bench)]


def floor_call(bench: Bench) -> Callable[[], list[str]]:
    """The DuckDB floor writing Delta tables into a fresh folder."""

    def call() -> list[str]:
        out = fresh(WORK / "floor")
        script = BENCH / "tpch_marts" / "floor.py"
        return [str(PYTHON), str(script), "--data", str(bench.data), "--out", str(out)]

    return call


def pyspark_call(bench: Bench, like_headwater: bool = True) -> Callable[[], list[str]]:
    """The PySpark peer writing Parquet into a fresh folder."""

    def call() -> list[str]:
        out = fresh(WORK / "pyspark")
        peer = [str(PYTHON), str(HERE / "peer.py"), "--data", str(bench.data), "--out", str(out)]
        return [*peer, *conf_args(bench, like_headwater)]

    return call


def pyspark_defaults_call(bench: Bench) -> Callable[[], list[str]]:
    """The PySpark peer on Spark's own defaults (200 shuffle partitions, adaptive execution)."""
    return pyspark_call(bench, like_headwater=False)


def engine_yaml(bench: Bench) -> str:
    """The `engine:` block of the Headwater project: Spark with the bench's settings."""
    lines = ["engine:", "  type: spark", f'  master: "{bench.master}"']
    if bench.settings:
        lines.append("  settings:")
        lines.extend(f'    {key}: "{value}"' for key, value in bench.settings.items())
    return "\n".join(lines) + "\n"


def headwater_project(bench: Bench, root: Path) -> Path:
    """A fresh copy of the marts project at `root/project`, building on Spark."""
    project = fresh(root / "project")
    shutil.copytree(marts_bench.MODELS_DIR, project / "models")
    (project / "headwater.yml").write_text(
        f"name: tpch\nwarehouse: warehouse\nvars:\n  tpch_dir: {bench.data}\n{engine_yaml(bench)}"
    )
    return project


def headwater_call(bench: Bench) -> Callable[[], list[str]]:
    """`headwater run --threads 2` of a fresh project on Spark."""

    def call() -> list[str]:
        project = headwater_project(bench, WORK / "headwater")
        return [str(HEADWATER), "run", "--project", str(project), "--threads", "2"]

    return call


CALLS: dict[str, tuple[str, str, Callable[[Bench], Callable[[], list[str]]]]] = {
    "session": ("spark session start", "`import pyspark` + session start + stop", session_call),
    "floor": ("floor (DuckDB + delta-rs)", "full build, Delta", floor_call),
    "pyspark": ("plain PySpark", "full build, Parquet; the engine's Spark settings", pyspark_call),
    "pyspark-defaults": (
        "plain PySpark",
        "full build, Parquet; Spark's default settings",
        pyspark_defaults_call,
    ),
    "headwater": ("headwater, engine: spark", "full build, Delta", headwater_call),
}


# ---------------------------------------------------------------- checking results


def parquet_checksums(root: Path) -> dict[str, tuple[object, ...]]:
    """Checksums of the marts the peer wrote as Parquet folders under `root/marts/`."""
    import duckdb

    con = duckdb.connect()
    return {
        name: marts_bench.checksum(con, f"read_parquet('{root / 'marts' / name}/*.parquet')")
        for name in MARTS
        if (root / "marts" / name).is_dir()
    }


def check(bench: Bench, tool: str) -> None:
    """Compare the marts of `tool`'s last run with the floor's; note the verdict."""
    if tool == "floor":
        bench.floor_sums = marts_bench.delta_checksums(WORK / "floor", MARTS)
        return
    if tool in ("pyspark", "pyspark-defaults"):
        got = parquet_checksums(WORK / "pyspark")
    elif tool == "headwater":
        got = marts_bench.delta_checksums(WORK / "headwater" / "project" / "warehouse", MARTS)
    else:
        return
    label = f"{CALLS[tool][0]} ({CALLS[tool][1]})"
    if not bench.floor_sums:
        bench.notes.append(f"{label}: not checked (no floor in this run).")
        return
    bad = [name for name in MARTS if not same(got.get(name), bench.floor_sums.get(name))]
    if bad:
        bench.notes.append(f"**{label}: marts differ from the floor's**: {', '.join(bad)}")
        for name in bad:
            print(f"  {name}: floor {bench.floor_sums.get(name)} vs {tool} {got.get(name)}")
    else:
        bench.notes.append(
            f"{label}: all {len(MARTS)} marts equal the floor's (row counts, column sums "
            "within a relative 1e-5: Spark averages decimals to 6 places)."
        )


def same(got: tuple[object, ...] | None, want: tuple[object, ...] | None) -> bool:
    """Whether two checksums agree, numbers within a relative 1e-5: Spark's average of a
    decimal is a decimal of scale 6 where DuckDB's is a double."""
    if got is None or want is None or len(got) != len(want):
        return False
    for mine, theirs in zip(got, want, strict=True):
        if isinstance(mine, int | float) and isinstance(theirs, int | float):
            if abs(mine - theirs) > 1e-5 * max(abs(mine), abs(theirs)):
                return False
        elif mine != theirs:
            return False
    return True


# ---------------------------------------------------------------- measuring


def attempt(bench: Bench, tool: str, label: str) -> Sample | None:
    """One run of `tool`; None (and the row marked failed) when it fails."""
    row = bench.rows[tool]
    try:
        sample = run(CALLS[tool][2](bench)())
    except RunFailed as exc:
        row.failed = str(exc).splitlines()[0][:300]
        bench.notes.append(f"**{row.tool} failed**: `{str(exc)[-600:]}`".replace("\n", " / "))
        print(f"  {tool} FAILED: {exc}")
        return None
    own = ", ".join(f"{k} {v:.2f}" for k, v in sample.report.items() if isinstance(v, float))
    print(f"  {tool} {label}: {sample.wall:.2f} s, {sample.rss_mb:.0f} MiB {own}")
    return sample


def measure_all(bench: Bench, tools: list[str], after_round: Callable[[], None]) -> None:
    """A checked warm-up of each tool, then `bench.runs` rounds of timed runs in turn;
    `after_round` is called after each round (to write the report so far)."""
    for tool in tools:
        bench.rows[tool] = Row(*CALLS[tool][:2])
    print("== warm-up (untimed, results checked)")
    for tool in sorted(tools, key=lambda t: t != "floor"):
        if attempt(bench, tool, "warm-up") is not None:
            check(bench, tool)
    for i in range(bench.runs):
        print(f"== round {i + 1} of {bench.runs}")
        for tool in tools:
            if bench.rows[tool].failed:
                continue
            sample = attempt(bench, tool, f"#{i + 1}")
            if sample is not None:
                bench.rows[tool].samples.append(sample)
        after_round()


# ---------------------------------------------------------------- reporting


def med(values: list[float]) -> float:
    """The median."""
    return statistics.median(values)


def session_start(bench: Bench) -> float | None:
    """Median wall time of the session-start runs."""
    row = bench.rows.get("session")
    return med(row.walls()) if row and row.samples else None


def figures(bench: Bench, tool: str, without_session: bool) -> list[float] | None:
    """The wall times of `tool`, less the median session start when asked."""
    row = bench.rows.get(tool)
    if not row or not row.samples:
        return None
    start = session_start(bench)
    if not without_session:
        return row.walls()
    if start is None:
        return None
    return [wall - start for wall in row.walls()]


def ratio(mine: list[float] | None, theirs: list[float] | None, pick: Callable[..., float]) -> str:
    """pick(mine) / pick(theirs), or a dash."""
    if not mine or not theirs:
        return DASH
    return f"{pick(mine) / pick(theirs):.2f}{TIMES}"


def table(bench: Bench) -> list[str]:
    """The results as markdown table lines."""
    lines = [
        f"| tool | what was timed | runs | median s | min{DASH}max s | peak RSS MiB (max) "
        f"| {TIMES} floor (median) | {TIMES} PySpark (median) | {TIMES} PySpark (min) "
        f"| {TIMES} PySpark on Spark's defaults (median) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    floor = figures(bench, "floor", False)
    for tool, row in bench.rows.items():
        if row.failed or not row.samples:
            lines.append(f"| {row.tool} | {row.what} | 0 | failed: {row.failed} | | | | | | |")
            continue
        spark = tool in ("pyspark", "pyspark-defaults", "headwater")
        for without in [False, True] if spark else [False]:
            walls = figures(bench, tool, without)
            if walls is None:
                continue
            peer = figures(bench, "pyspark", without) if spark else None
            plain = figures(bench, "pyspark-defaults", without) if spark else None
            what = row.what + (", without session start" if without else "")
            rss = max(s.rss_mb for s in row.samples)
            to_floor = ratio(walls, floor, med) if tool != "session" else DASH
            lines.append(
                f"| {row.tool} | {what} | {len(walls)} | {med(walls):.2f} | {min(walls):.2f}"
                f"{DASH}{max(walls):.2f} | {rss:.0f} | {to_floor} | {ratio(walls, peer, med)} "
                f"| {ratio(walls, peer, min)} | {ratio(walls, plain, med)} |"
            )
    for tool in ("pyspark", "pyspark-defaults"):
        row = bench.rows.get(tool)
        if row and row.samples and all("work_s" in s.report for s in row.samples):
            work = [float(s.report["work_s"]) for s in row.samples]
            session = [float(s.report["session_s"]) for s in row.samples]
            lines.append(
                f"| {row.tool} | {row.what}: its own timer of the views and 6 writes (its "
                f"session start in the same process: median {med(session):.2f} s) | "
                f"{len(work)} | {med(work):.2f} | {min(work):.2f}{DASH}{max(work):.2f} "
                "| | | | | |"
            )
    return lines


def versions() -> str:
    """Versions of what was measured."""
    parts = []
    for package in ("pyspark", "duckdb", "deltalake", "sqlglot", "headwater"):
        try:
            parts.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{package} not installed")
    return ", ".join(parts)


def load_note(bench: Bench) -> str:
    """The load averages at the start and the end."""
    start = " ".join(f"{x:.1f}" for x in bench.load_start)
    end = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"load average {start} at the start, {end} at the end, on {os.cpu_count()} cores"


def report(bench: Bench, command: str) -> str:
    """The whole markdown report."""
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    start = session_start(bench)
    return "\n".join(
        [
            "# TPC-H marts on Spark",
            "",
            f"{now}, TPC-H sf{tpch_data.sf_label(bench.sf)} ({bench.lineitem_rows:,} line "
            f"items), {os.cpu_count()} cores, {mem:.0f} GiB, Python "
            f"{platform.python_version()}; {versions()}. Spark master `{bench.master}`"
            + (f", settings {bench.settings}" if bench.settings else "")
            + ".",
            f"Command: `{command}`. Machines are shared and noisy ({load_note(bench)}): "
            "compare the ratios, measured side by side in one session, and prefer the min.",
            "",
            *table(bench),
            "",
            "- headwater: `headwater run --threads 2` of a fresh project with "
            "`engine: {type: spark}`; Spark reads the raw Parquet, writes each mart's Parquet "
            "files, delta-rs commits them (Delta) and the publish gate audits each table; "
            "the process start, project load and catalog records are included.",
            "- plain PySpark: the same 14 SELECTs transpiled once by sqlglot "
            "(`headwater.engine.spark_sql.spark_sql`), staging as temporary views, each mart "
            "written with `DataFrame.write.parquet` (no Delta).",
            "- without session start: the process wall minus the median of the "
            "session-start runs"
            + (f" ({start:.2f} s)" if start is not None else "")
            + ", the same for both Spark tools.",
            "- Each run is a fresh process (a fresh JVM) in a fresh folder; peak RSS is the "
            "whole process tree's (Python and the JVM), polled every 50 ms.",
            *[f"- {note}" for note in bench.notes],
            "",
        ]
    )


# ---------------------------------------------------------------- main


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sf", type=float, default=1, help="TPC-H scale factor (default 1)")
    parser.add_argument("--runs", type=int, default=3, help="timed rounds (default 3)")
    parser.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated")
    parser.add_argument("--conf", action="append", default=[], help="Spark setting key=value")
    parser.add_argument("--out", type=Path, default=RESULTS, help="markdown results file")
    args = parser.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        raise SystemExit(f"unknown tools {sorted(unknown)}; choose from {', '.join(TOOLS)}")

    import duckdb

    data = tpch_data.generate(args.sf)
    settings = dict(item.split("=", 1) for item in args.conf)
    bench = Bench(args.sf, args.runs, data, args.master, settings)
    [(bench.lineitem_rows,)] = duckdb.sql(
        f"select count(*) from '{data}/lineitem.parquet'"
    ).fetchall()
    WORK.mkdir(parents=True, exist_ok=True)
    command = "python " + " ".join(
        [str(Path(sys.argv[0]).resolve().relative_to(REPO)), *sys.argv[1:]]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def write() -> None:
        args.out.write_text(report(bench, command))

    measure_all(bench, tools, write)
    write()
    print(args.out.read_text())
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()

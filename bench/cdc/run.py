"""CDC apply benchmark (workload "CDC apply" of shared/BENCHMARKS.md): PostgreSQL's change
log applied to a Delta mirror by Headwater, beside the floor (`pg_recvlogical` decoding the
same changes to /dev/null), in one run on the same changes.

Workload: TPC-H SF1 `orders` (1.5M rows, from tpchgen-cli via bench/tpch_data.py) in a
throwaway PostgreSQL 15 started by this script with wal_level=logical; a Headwater project
with a sql source `pg` whose table `orders` is `mode: cdc` (primary key o_orderkey). Its first
`headwater ingest` creates the slot and copies the table (timed and reported apart). Then
`--changes` changes (1,000,000) in transactions of `--txn` (100): 60 % updates of
`o_comment`/`o_orderstatus`, 30 % inserts, 10 % deletes, committed by a server-side
procedure (`pg.py`; the generation is not timed).

Arms (`--tools`), each its own process, timed from outside with the peak RSS of its process
tree polled every 50 ms (bench/streaming/measure.py):
- floor: `pg_recvlogical` with pgoutput (`proto_version=1`, a publication of `orders`) on its
  own slot, made before the workload, `--start ... --endpos <WAL position after the
  workload> -f /dev/null`: from start to exit, how fast PostgreSQL emits the changes.
- headwater: `headwater ingest pg` draining its slot (made by the first ingest, before the
  workload) up to the current WAL position: from start to exit, then the mirror is checked
  against the table (row count and a sum of per-row md5 hashes over every column, in
  PostgreSQL and in DuckDB over the Delta table).
  changes/s = changes / seconds for both, the ratio headwater / floor (target >= 0.7), peak
  RSS (target < 1 GiB). `--runs N` makes N slots for each (N Headwater projects, each copied
  first), medians reported.
- latency: after the above, `headwater stream run pg` (or, when that command does not take
  cdc sources, `capture.py` running `PostgresCaptureJob.run(until_caught_up=False)`) runs
  continuously on the first project while a writer commits `--rate` changes/s (1,000) in
  transactions of `--latency-txn` (50) for `--duration` s (60), the same mix, every updated
  or inserted row stamped with `clock_timestamp()`. Visibility latency per transaction =
  mtime of the first Delta version holding its rows - its stamp; p50/p99 (target p99 <= 2 s).

`--profile pyspy|cprofile` drains one more slot (one more project) under a profiler after the
arms and prints the top of the profile (py-spy: samples by function, idle included).

Usage:
  .venv/bin/python bench/cdc/run.py                                # 1M changes + latency
  .venv/bin/python bench/cdc/run.py --changes 100000 --duration 20 # a quick try
  .venv/bin/python bench/cdc/run.py --profile pyspy --out bench/results/cdc.md
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import signal
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
sys.path.insert(1, str(BENCH / "streaming"))
sys.path.insert(2, str(BENCH))

import measure  # noqa: E402  (bench/streaming/measure.py)
import tpch_data  # noqa: E402
from latency import Visibility, Writer, applied_commit_us, latest_version, percentile  # noqa: E402
from latency import visibility as read_visibility  # noqa: E402
from pg import Database, Mix, Plan, mirror_checksum  # noqa: E402

WORK = BENCH / ".work" / "cdc"
PYTHON = sys.executable
HEADWATER = REPO / ".venv" / "bin" / "headwater"
PY_SPY = Path(sys.executable).parent / "py-spy"
SOURCE = "pg"
GENERATE_CHUNK = 500
"""Transactions per CALL of the workload procedure (progress is printed between calls)."""
DASH, TIMES, DIVIDED = "\u2013", "\u00d7", "\u00f7"
TARGETS = {"ratio": 0.7, "rss_mib": 1024, "p99_s": 2.0}
"""Issue 14's targets for Headwater, printed beside the results."""


class ArmFailed(Exception):
    """An arm could not run, exited non-zero or left a wrong mirror."""


@dataclass
class Sample:
    """One timed run of one arm."""

    seconds: float
    rss_mib: float
    report: dict[str, Any] = field(default_factory=dict)


@dataclass
class Row:
    """One throughput arm."""

    tool: str
    what: str
    samples: list[Sample] = field(default_factory=list)
    failed: str | None = None

    def seconds(self) -> float | None:
        """Median seconds, or None without samples."""
        return statistics.median(s.seconds for s in self.samples) if self.samples else None

    def rss(self) -> float | None:
        """Largest peak RSS over the runs."""
        return max(s.rss_mib for s in self.samples) if self.samples else None


@dataclass
class Bench:
    """Settings, the server and the results of one session."""

    args: argparse.Namespace
    db: Database | None = None
    plan: Plan | None = None
    rows: dict[str, Row] = field(default_factory=dict)
    facts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    latency: dict[str, Any] = field(default_factory=dict)
    profile: list[str] = field(default_factory=list)
    changes: int = 0
    load_start: float = field(default_factory=lambda: os.getloadavg()[0])
    load_max: float = 0.0


# ---------------------------------------------------------------- helpers


def fresh(*parts: str) -> Path:
    """An empty folder under the work folder."""
    folder = WORK.joinpath(*parts)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def checked(result: measure.Measured, what: str) -> measure.Measured:
    """`result`, or ArmFailed with the end of its output when it exited non-zero."""
    if result.returncode != 0:
        tail = (result.stderr.strip() or result.stdout.strip())[-2000:]
        raise ArmFailed(f"{what} exited with {result.returncode}:\n{tail}")
    return result


def note_load(bench: Bench) -> None:
    """Keep the highest 1-min load average seen."""
    bench.load_max = max(bench.load_max, os.getloadavg()[0])


def write_project(root: Path, db: Database, slot: str, batch_changes: int | None) -> Path:
    """A project with the one source `pg` mirroring `orders`; return the mirror's folder."""
    import yaml

    (root / "sources").mkdir(parents=True)
    (root / "headwater.yml").write_text("name: cdcbench\nwarehouse: warehouse\n")
    cdc: dict[str, Any] = {"slot": slot}
    if batch_changes:
        cdc["batch_changes"] = batch_changes
    source = {
        "kind": "sql",
        "url": db.url,
        "cdc": cdc,
        "tables": {"orders": {"mode": "cdc", "primary_key": ["o_orderkey"]}},
    }
    (root / "sources" / f"{SOURCE}.yml").write_text(yaml.safe_dump(source, sort_keys=False))
    return root / "warehouse" / SOURCE / "orders"


@dataclass
class Project:
    """One Headwater project reading its own slot."""

    root: Path
    mirror: Path
    slot: str


def headwater_ingest(bench: Bench, project: Project) -> measure.Measured:
    """`headwater ingest pg --json` in `project`, measured."""
    cmd = [str(bench.args.headwater), "ingest", SOURCE, "--json"]
    result = checked(measure.run(cmd, cwd=project.root), f"headwater ingest ({project.root})")
    note_load(bench)
    return result


def verify(bench: Bench, project: Project, when: str) -> None:
    """Compare the mirror with the table; a difference fails the arm."""
    assert bench.db is not None
    expected = bench.db.checksum()
    got = mirror_checksum(project.mirror)
    line = (
        f"{when}: PostgreSQL {expected[0]:,} rows, hash sum {expected[1]}; mirror "
        f"{got[0]:,} rows, hash sum {got[1]}: {'equal' if got == expected else 'DIFFERENT'}"
    )
    bench.checks.append(line)
    print(line, flush=True)
    if got != expected:
        raise ArmFailed(f"the mirror differs from the table ({when})")


# ---------------------------------------------------------------- set-up


def set_up(bench: Bench) -> list[Project]:
    """Start PostgreSQL, load orders, make one project per run (each copies the table), the
    floor slots, and the profile's project when asked."""
    args = bench.args
    parquet = tpch_data.generate(1) / "orders.parquet"
    started = time.perf_counter()
    bench.db = db = Database()
    rows = db.load_orders(parquet, args.rows)
    bench.facts.append(
        f"orders loaded into PostgreSQL: {rows:,} rows in {time.perf_counter() - started:.1f} s "
        "(untimed)"
    )
    mix = Mix.of(args.txn)
    txns = args.changes // mix.size
    bench.changes = txns * mix.size
    latency_txns = 0
    if "latency" in args.tool_list:
        lat = Mix.of(args.latency_txn)
        # room for twice the planned transactions: the writer may run a little longer
        latency_txns = int(2 * args.rate * args.duration / lat.size) + 10
    lat_mix = Mix.of(args.latency_txn)
    bench.plan = Plan.of(
        rows,
        txns * mix.deletes + latency_txns * lat_mix.deletes,
        txns * mix.updates + latency_txns * lat_mix.updates,
    )
    projects = []
    wanted = args.runs if {"headwater", "latency"} & set(args.tool_list) else 0
    if args.profile != "none":
        wanted += 1
    for run in range(wanted):
        slot = f"headwater_r{run}"
        root = fresh("projects", f"r{run}")
        project = Project(root, write_project(root, db, slot, args.batch_changes), slot)
        print(f"first ingest of project r{run} (copies orders) ...", flush=True)
        result = headwater_ingest(bench, project)
        bench.facts.append(
            f"first `headwater ingest` of project r{run} (creates the slot, copies {rows:,} "
            f"rows): {result.wall_s:.1f} s, peak RSS {result.peak_rss_mb:,.0f} MiB"
        )
        verify(bench, project, f"after the copy (r{run})")
        projects.append(project)
    if "floor" in args.tool_list:
        for run in range(args.runs):
            db.create_floor_slot(f"floor_r{run}")
    return projects


def generate(bench: Bench) -> str:
    """Commit the workload's changes; return the WAL position after them."""
    assert bench.db is not None and bench.plan is not None
    args, db, plan = bench.args, bench.db, bench.plan
    mix = Mix.of(args.txn)
    txns = bench.changes // mix.size
    start = db.current_lsn()
    started = time.perf_counter()
    with db.connect() as connection:
        done = 0
        while done < txns:
            chunk = min(GENERATE_CHUNK, txns - done)
            db.changes(connection, plan, mix, chunk)
            done += chunk
            if done % (GENERATE_CHUNK * 20) == 0 or done == txns:
                print(f"  {done * mix.size:,} of {txns * mix.size:,} changes", flush=True)
    took = time.perf_counter() - started
    end = db.current_lsn()
    wal = db.wal_bytes(start)
    bench.facts.append(
        f"workload: {txns * mix.size:,} changes in {txns:,} transactions of {mix.size} "
        f"({mix.updates} updates, {mix.inserts} inserts, {mix.deletes} deletes), committed by "
        f"a server-side procedure in {took:.1f} s ({txns * mix.size / took:,.0f} changes/s, "
        f"untimed); {wal / 2**20:,.0f} MiB of WAL, ending at {end}"
    )
    note_load(bench)
    return end


# ---------------------------------------------------------------- throughput arms


def floor_arm(bench: Bench, run: int, endpos: str) -> Sample:
    """`pg_recvlogical` over the floor slot of `run`, to the WAL position `endpos`."""
    assert bench.db is not None
    server = bench.db.server
    slot = f"floor_r{run}"
    cmd = [
        shutil.which("pg_recvlogical") or "pg_recvlogical",
        "-h",
        "127.0.0.1",
        "-p",
        str(server.port),
        "-U",
        "postgres",
        "-d",
        "bench",
        "--slot",
        slot,
        "--start",
        "--no-loop",
        "-o",
        "proto_version=1",
        "-o",
        f"publication_names={slot}",
        "--endpos",
        endpos,
        "-f",
        "/dev/null",
    ]
    result = checked(measure.run(cmd), "pg_recvlogical")
    note_load(bench)
    confirmed = bench.db.slot_lsn(slot)
    return Sample(result.wall_s, result.peak_rss_mb, {"confirmed": confirmed})


def headwater_arm(bench: Bench, project: Project) -> Sample:
    """`headwater ingest pg` draining the project's slot, then the mirror checked."""
    result = headwater_ingest(bench, project)
    report = result.report
    verify(bench, project, f"after the drain ({project.slot})")
    return Sample(result.wall_s, result.peak_rss_mb, report)


def throughput(bench: Bench, projects: list[Project], endpos: str) -> None:
    """Run the floor and Headwater arms, taking turns, once per slot."""
    args = bench.args
    arms: dict[str, tuple[str, Callable[[int], Sample]]] = {}
    if "floor" in args.tool_list:
        arms["floor"] = (
            "pg_recvlogical, pgoutput -> /dev/null",
            lambda run: floor_arm(bench, run, endpos),
        )
    if "headwater" in args.tool_list:
        arms["headwater"] = (
            "headwater ingest pg (drain the slot into the mirror)",
            lambda run: headwater_arm(bench, projects[run]),
        )
    for tool, (what, _) in arms.items():
        bench.rows[tool] = Row(tool, what)
    for run in range(args.runs):
        for tool, (_, arm) in arms.items():
            row = bench.rows[tool]
            if row.failed:
                continue
            print(f"{tool} run {run + 1}/{args.runs} ...", flush=True)
            try:
                sample = arm(run)
            except ArmFailed as exc:
                row.failed = str(exc)
                print(f"  FAILED: {exc}", flush=True)
                continue
            row.samples.append(sample)
            print(
                f"  {sample.seconds:.2f} s, {bench.changes / sample.seconds:,.0f} changes/s, "
                f"peak RSS {sample.rss_mib:,.0f} MiB",
                flush=True,
            )


# ---------------------------------------------------------------- profile


def profile_arm(bench: Bench, project: Project) -> None:
    """Drain `project`'s slot under py-spy or cProfile (capture.py in the main thread)."""
    args = bench.args
    out = fresh("profile")
    script = [str(HERE / "capture.py"), str(project.root), SOURCE, "--until-caught-up"]
    if args.profile == "pyspy":
        raw = out / "pyspy.txt"
        cmd = [str(PY_SPY), "record", "--format", "raw", "--idle", "--rate", "100"]
        cmd += ["-o", str(raw), "--", PYTHON, *script]
    else:
        raw = out / "cprofile.prof"
        cmd = [PYTHON, "-m", "cProfile", "-o", str(raw), *script]
    print(f"profile ({args.profile}) ...", flush=True)
    result = checked(measure.run(cmd), f"profile ({args.profile})")
    verify(bench, project, "after the profiled drain")
    header = (
        f"{args.profile} over `capture.py --until-caught-up` (the drain in the main thread): "
        f"{result.wall_s:.1f} s under the profiler; raw profile in {raw}"
    )
    if args.profile == "pyspy":
        bench.profile = [header, "", *pyspy_top(raw)]
    else:
        bench.profile = [header, "", *cprofile_top(raw)]


CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("delta-rs merge (`TableMerger.execute`)", ("TableMerger.execute",)),
    ("delta-rs: other (log, commit, open)", ("deltalake/",)),
    ("DuckDB: text -> mirror types (`_typed` query)", ("engine/duckdb", "duckdb/")),
    (
        "Arrow building (`_typed`, `_text_array`, `column_values`)",
        ("_text_array", "column_values", "_typed "),
    ),
    ("pgoutput decode, whole transactions", ("cdc/pgoutput.py", "PostgresCapture._take ")),
    ("TableChanges: collapse per key", ("cdc/changes.py",)),
    ("applying a transaction to the batch (`_take`, `_change`)", ("postgres_job.py",)),
    ("psycopg2 read_message + waiting for the server", ("PostgresCapture.read ",)),
    ("replication: caught_up / acknowledge / start", ("cdc/postgres.py",)),
    ("start-up: imports, project load, engine", ("importlib", "headwater/")),
)
"""Where a sample's time goes: the first rule matching its frames from the leaf up (each
frame tried against every rule in order)."""


def categorize(frames: list[str]) -> str:
    """The category of one sampled stack (frames root first)."""
    for frame in reversed(frames):
        for name, marks in CATEGORIES:
            if any(mark in frame for mark in marks):
                return name
    return "other"


def pyspy_top(raw: Path, top: int = 25) -> list[str]:
    """A markdown table of the functions holding the most samples (inclusive and self),
    from py-spy's collapsed stacks."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    kinds: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [_frame(f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        kind = categorize(frames)
        kinds[kind] = kinds.get(kind, 0) + count
    lines = ["Where the time goes (samples, idle included):", "", "| part | share |"]
    lines.append("| --- | ---: |")
    for kind, count in sorted(kinds.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {kind} | {count / total:.1%} |")
    lines += ["", "By function:", "", "| function (file) | inclusive | self |"]
    lines.append("| --- | ---: | ---: |")
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])
    shown = 0
    for frame, count in ranked:
        if count / total > 0.97:
            continue  # the call chain every sample shares (main, run, ...)
        lines.append(f"| `{frame}` | {count / total:.1%} | {own.get(frame, 0) / total:.1%} |")
        shown += 1
        if shown >= top:
            break
    lines += ["", "Self time, top functions:", "", "| function | self |", "| --- | ---: |"]
    for frame, count in sorted(own.items(), key=lambda kv: -kv[1])[:15]:
        lines.append(f"| `{frame}` | {count / total:.1%} |")
    return lines


def _frame(text: str) -> str:
    """`func (path/to/file.py:12)` -> `func (file.py)`: one entry per function."""
    name, _, where = text.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if len(parts) >= 2 else path
    return f"{name} ({short})"


def cprofile_top(raw: Path, top: int = 30) -> list[str]:
    """The top of a cProfile by cumulative time, as a text block."""
    import io
    import pstats

    text = io.StringIO()
    stats = pstats.Stats(str(raw), stream=text)
    stats.sort_stats("cumulative").print_stats(top)
    return ["```", *text.getvalue().strip().splitlines()[-top - 6 :], "```"]


# ---------------------------------------------------------------- latency


def stream_command(bench: Bench, project: Project) -> tuple[list[str], str]:
    """The continuous capture's command: `headwater stream run pg` when it takes cdc
    sources, else capture.py; and a description."""
    args = bench.args
    cli = [str(args.headwater), "stream", "run", SOURCE]
    script = [PYTHON, str(HERE / "capture.py"), str(project.root), SOURCE]
    if args.latency_runner == "script":
        return script, "capture.py (PostgresCaptureJob.run(until_caught_up=False))"
    if args.latency_runner == "cli":
        return cli, "headwater stream run pg"
    # auto: the command's help says whether a NAME may be a cdc source
    probe = subprocess.run(
        [str(args.headwater), "stream", "run", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if probe.returncode == 0 and "cdc source" in " ".join(probe.stdout.split()):
        return cli, "headwater stream run pg"
    bench.notes.append(
        "`headwater stream run` did not take cdc sources yet (its --help names none), so the "
        "latency arm ran bench/cdc/capture.py: PostgresCaptureJob.run(until_caught_up=False) "
        "as the stream command would"
    )
    return script, "capture.py (PostgresCaptureJob.run(until_caught_up=False))"


def run_beside(
    cmd: list[str], project: Project, writer: Writer, duration: float
) -> tuple[int, str, str, int, float, bool]:
    """Run the capture `cmd` while `writer` writes; stop it (SIGTERM) once the mirror holds
    the writer's last transaction (or 60 s after the writer's planned end). Return its exit
    code, output, error output, peak tree RSS (bytes), wall seconds and whether it caught up."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=project.root, stdout=out, stderr=err)
        writer.start()
        peak, stopping, caught_up = 0, None, False
        while proc.poll() is None:
            peak = max(peak, measure.tree_rss(proc.pid))
            now = time.perf_counter()
            if stopping is None and not writer.is_alive():
                last = writer.last_before
                applied = applied_commit_us(project.mirror)
                if last is None or (applied is not None and applied >= last * 1_000_000):
                    caught_up, stopping = last is not None, now
                elif writer.started_at and time.time() - writer.started_at > duration + 60:
                    stopping = now
                if stopping is not None:
                    proc.send_signal(signal.SIGTERM)
            if stopping is not None and now - stopping > 60:
                proc.kill()
            time.sleep(measure.POLL_S)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), peak, wall, caught_up


def latency_arm(bench: Bench, project: Project) -> None:
    """Run the capture continuously while the writer commits at `--rate`; time visibility."""
    assert bench.db is not None and bench.plan is not None
    args, db = bench.args, bench.db
    if "headwater" not in args.tool_list:
        print("draining the workload first (untimed) ...", flush=True)
        headwater_ingest(bench, project)
    cmd, what = stream_command(bench, project)
    since = latest_version(project.mirror)
    mix = Mix.of(args.latency_txn)

    def streaming() -> bool:
        with db.connect() as connection:
            row = connection.execute(
                "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s",
                (project.slot,),
            ).fetchone()
        return row is not None and row[0] is not None

    writer = Writer(db, bench.plan, mix, args.rate, args.duration, streaming)
    print(f"latency: {what}, {args.rate:,.0f} changes/s for {args.duration:g} s ...", flush=True)
    ran = run_beside(cmd, project, writer, args.duration)
    note_load(bench)
    returncode, stdout, stderr, peak, wall, caught_up = ran
    writer.join(timeout=5)
    result: dict[str, Any] = {"what": what, "rss_mib": peak / 2**20, "wall_s": wall}
    bench.latency = result
    if writer.error:
        result["failed"] = f"writer: {writer.error}"
        return
    if returncode not in (0, -15, 143):
        tail = (stderr.strip() or stdout.strip())[-2000:]
        result["failed"] = f"{what} exited with {returncode}:\n{tail}"
        return
    if not caught_up:
        result["failed"] = "the mirror did not catch up with the writer within 60 s of its end"
    seen: Visibility = read_visibility(project.mirror, since, writer.sent)
    from_stamp = seen.latencies()
    from_commit = seen.latencies(since_commit=True)
    elapsed = max(b for b, _ in writer.sent.values()) - min(b for b, _ in writer.sent.values())
    result.update(
        {
            "transactions": len(writer.sent),
            "changes": len(writer.sent) * mix.size,
            "rate": len(writer.sent) * mix.size / elapsed if elapsed else float("nan"),
            "late_starts": writer.behind,
            "visible": len(seen.visible),
            "missing": len(seen.missing()),
            "versions": seen.versions,
            "p50_s": percentile(from_stamp, 50),
            "p99_s": percentile(from_stamp, 99),
            "max_s": max(from_stamp, default=float("nan")),
            "p50_commit_s": percentile(from_commit, 50),
            "p99_commit_s": percentile(from_commit, 99),
        }
    )
    verify(bench, project, "after the latency run")


# ---------------------------------------------------------------- report


def versions() -> str:
    """Versions of what was benchmarked."""
    parts = []
    for package in ("headwater", "deltalake", "duckdb", "pyarrow", "psycopg2-binary", "psycopg"):
        try:
            parts.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{package} not installed")
    pg = subprocess.run(
        ["pg_recvlogical", "--version"], check=False, capture_output=True, text=True
    )
    parts.append(pg.stdout.strip() or "pg_recvlogical ?")
    return ", ".join(parts)


def throughput_table(bench: Bench) -> list[str]:
    """The floor and Headwater side by side."""
    lines = [
        f"| arm | what was timed | changes | runs | median s | min{DASH}max s | changes/s | "
        f"peak RSS MiB | {TIMES} floor |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    floor = bench.rows.get("floor")
    floor_rate = bench.changes / floor.seconds() if floor and floor.seconds() else None
    for row in bench.rows.values():
        seconds = row.seconds()
        if seconds is None:
            lines.append(f"| {row.tool} | {row.what} | failed | | | | | | |")
            continue
        rate = bench.changes / seconds
        low = min(s.seconds for s in row.samples)
        high = max(s.seconds for s in row.samples)
        ratio = f"{rate / floor_rate:.2f}{TIMES}" if floor_rate else DASH
        lines.append(
            f"| {row.tool} | {row.what} | {bench.changes:,} | {len(row.samples)} | "
            f"{seconds:.2f} | {low:.2f}{DASH}{high:.2f} | {rate:,.0f} | {row.rss() or 0:,.0f} | "
            f"{ratio} |"
        )
    return lines


def latency_lines(bench: Bench) -> list[str]:
    """The latency arm's table."""
    lat = bench.latency
    if not lat:
        return []
    if "p99_s" not in lat:
        return ["", "Latency: failed: " + str(lat.get("failed"))]
    lines = [
        "",
        "| latency arm | writer | transactions | visible | Delta versions | p50 s | p99 s | "
        "max s | p50 / p99 s from commit return | peak RSS MiB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {lat['what']} | {lat['rate']:,.0f} changes/s in transactions of "
        f"{bench.args.latency_txn} for {bench.args.duration:g} s | {lat['transactions']:,} | "
        f"{lat['visible']:,} | {lat['versions']} | {lat['p50_s']:.2f} | {lat['p99_s']:.2f} | "
        f"{lat['max_s']:.2f} | {lat['p50_commit_s']:.2f} / {lat['p99_commit_s']:.2f} | "
        f"{lat['rss_mib']:,.0f} |",
    ]
    if lat.get("missing"):
        lines.append(f"\n**{lat['missing']} transactions never showed in the mirror.**")
    if lat.get("failed"):
        lines.append(f"\n**{lat['failed']}**")
    return lines


def comparison(bench: Bench) -> list[str]:
    """Ratios and targets."""
    lines: list[str] = []
    hw, floor = bench.rows.get("headwater"), bench.rows.get("floor")
    if hw and hw.samples:
        hw_s = hw.seconds() or 0
        if floor and floor.samples:
            ratio = (floor.seconds() or 0) / hw_s
            met = "met" if ratio >= TARGETS["ratio"] else "NOT met"
            lines.append(
                f"- headwater {DIVIDED} floor: changes/s {ratio:.2f}{TIMES} (target >= "
                f"{TARGETS['ratio']}{TIMES}: {met})"
            )
        rss = hw.rss() or 0
        met = "met" if rss < TARGETS["rss_mib"] else "NOT met"
        lines.append(f"- headwater peak RSS {rss:,.0f} MiB (target < 1 GiB: {met})")
    lat = bench.latency
    if lat and "p99_s" in lat:
        met = "met" if lat["p99_s"] <= TARGETS["p99_s"] else "NOT met"
        lines.append(
            f"- visibility p99 {lat['p99_s']:.2f} s at {lat['rate']:,.0f} changes/s (target "
            f"<= {TARGETS['p99_s']:g} s: {met}); peak RSS {lat['rss_mib']:,.0f} MiB"
        )
    return lines


def report(bench: Bench) -> str:
    """The whole markdown report."""
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load_end = os.getloadavg()[0]
    command = " ".join(["bench/cdc/run.py", *sys.argv[1:]])
    lines = [
        f"# CDC apply benchmark ({bench.changes:,} changes)",
        "",
        f"{now}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}; "
        f"{versions()}. 1-min load average {bench.load_start:.1f} at the start, "
        f"{max(bench.load_max, load_end):.1f} at most, {load_end:.1f} at the end.",
        f"Generated by `.venv/bin/python {command}`. PostgreSQL runs on the same machine "
        "(its walsender decodes the WAL for both arms). Machines are shared and noisy: "
        "compare the ratios, measured side by side in one run, not the absolute numbers.",
    ]
    if bench.load_start > 1 or max(bench.load_max, load_end) > (os.cpu_count() or 1) + 1:
        lines.append("**Warning: the machine was busy**: the numbers are inflated and noisy.")
    lines.append("")
    if bench.rows:
        lines += throughput_table(bench)
    lines += latency_lines(bench)
    found = comparison(bench)
    if found:
        lines += ["", "Comparison:", *found]
    if bench.checks:
        lines += ["", "Mirror against PostgreSQL (row count, sum of md5 row hashes):"]
        lines += [f"- {c}" for c in bench.checks]
    lines += ["", "Set-up:", *[f"- {f}" for f in bench.facts]]
    failures = [f"- {r.tool}: {r.failed}" for r in bench.rows.values() if r.failed]
    if failures:
        lines += ["", "Failures:", *failures]
    if bench.notes:
        lines += ["", "Notes:", *[f"- {n}" for n in bench.notes]]
    if bench.profile:
        lines += ["", "## Profile of the Headwater drain", "", *bench.profile]
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tools", default="floor,headwater,latency", help="comma-separated")
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--txn", type=int, default=100, help="changes per transaction")
    parser.add_argument("--rows", type=int, help="load only the first N orders (default all)")
    parser.add_argument("--runs", type=int, default=1, help="slots (and projects) per arm")
    parser.add_argument("--batch-changes", type=int, help="the source's cdc.batch_changes")
    parser.add_argument("--rate", type=float, default=1000, help="latency: changes/s")
    parser.add_argument("--duration", type=float, default=60, help="latency: seconds")
    parser.add_argument("--latency-txn", type=int, default=50, help="latency: txn size")
    parser.add_argument("--latency-runner", choices=("auto", "cli", "script"), default="auto")
    parser.add_argument("--profile", choices=("none", "pyspy", "cprofile"), default="none")
    parser.add_argument("--headwater", type=Path, default=HEADWATER, help="its executable")
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    args.tool_list = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(args.tool_list) - {"floor", "headwater", "latency"}
    if unknown:
        raise SystemExit(f"unknown tools {sorted(unknown)}: use floor, headwater, latency")
    if args.profile == "pyspy" and not PY_SPY.exists():
        raise SystemExit(
            f"{PY_SPY} not found: .venv/bin/pip install py-spy (or --profile cprofile)"
        )
    bench = Bench(args)
    try:
        projects = set_up(bench)
        endpos = generate(bench)
        throughput(bench, projects, endpos)
        if args.profile != "none":
            try:
                profile_arm(bench, projects[-1])
            except ArmFailed as exc:
                bench.profile = [f"the profiled drain failed: {exc}"]
        if "latency" in args.tool_list and bench.db is not None:
            for run in range(args.runs):
                bench.db.drop_slot(f"floor_r{run}")
            if args.profile != "none":
                bench.db.drop_slot(projects[-1].slot)
            try:
                latency_arm(bench, projects[0])
            except ArmFailed as exc:
                bench.latency["failed"] = str(exc)
    finally:
        if bench.db is not None:
            bench.db.stop()
    text = report(bench)
    print()
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
        print(f"written to {args.out}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "settings": {k: str(v) for k, v in vars(args).items()},
            "throughput": {t: [vars(s) for s in r.samples] for t, r in bench.rows.items()},
            "latency": bench.latency,
            "report": text,
        }
        args.json.write_text(json.dumps(data, indent=2, default=str))
    failed = [r.tool for r in bench.rows.values() if r.failed]
    if failed or bench.latency.get("failed"):
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Streaming benchmark (workload "Streaming" of shared/BENCHMARKS.md): the floor, Spark
Structured Streaming and Headwater, side by side in one run on the same events.

Events: `event_time` (event n at 2026-01-01 + n x 10 us), `key` in 0..9,999, `value` ~ U(0,1),
5 % of them late by U(0, 30) s; a 10 s tumbling window per key (count, sum, max) with a 30 s
watermark, written to a Delta table. Each arm runs as its own process; its peak RSS is that of
its whole process tree (JVM included), polled every 50 ms with psutil.

Arms (`--tools`):
- floor: `floor.py`, one Python process, numpy -> Arrow batches of 1M events, DuckDB merging
  each into an Arrow state table, `write_deltalake` of each closed window set (no checkpoint,
  no fault tolerance). Its events are those of Headwater's generator (same seeded blocks), so
  its table is compared with Headwater's row by row.
- spark: `spark_arm.py`, local[2], `rate-micro-batch` source (events derived from its `value`
  with SQL hashes: same distribution, not the same events), foreachBatch -> `write_deltalake`.
  Events/s exclude the session's start-up, which is reported apart.
- headwater: `headwater stream run bench --until-caught-up` in a project this script writes
  (`headwater.yml`, `streams/bench.yml` with the generator source); its sink
  `<warehouse>/streams/bench` is compared with the floor's table afterwards.

Modes:
- throughput (default): `--events` events as fast as possible; events/s end to end (process
  start to exit, except Spark as said); median of 5 runs, or 3 for an arm whose first run
  took 10 s or more (`--runs` to set it), the tools taking turns.
- latency (`--mode latency`): `--rate` events/s in real time for `--duration` s; a reader
  thread polls each arm's Delta table every 50 ms and notes when each (window, key) row is
  readable; close latency = that time - window end; p50/p99 and the overhead above the 30 s
  watermark.
- `--source kafka`: Tansu (Kafka-compatible broker) on 127.0.0.1, `--kafka-events` events
  pre-loaded as JSON into a topic of 2 partitions; floor = a bare confluent-kafka consumer loop
  decoding the JSON into Arrow (`kafka_arm.py`); headwater = the same window over
  `source: {kind: kafka}`. Spark has no Kafka connector here (no Maven), so it is skipped.

Usage:
  .venv/bin/python bench/streaming/run.py [--tools floor,spark,headwater] [--events 20000000]
      [--spark-events N] [--runs N] [--json results.json] [--headwater .venv/bin/headwater]
  .venv/bin/python bench/streaming/run.py --mode latency [--duration 60] [--rate 10000]
  .venv/bin/python bench/streaming/run.py --source kafka [--kafka-events 2000000]
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
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import events
import floor
import kafka_arm
import measure
from latency import Latencies, Reader

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
REPO = BENCH.parent

WORK = BENCH / ".work" / "streaming"
PYTHON = sys.executable
HEADWATER = REPO / ".venv" / "bin" / "headwater"
WATERMARK_S, SIZE_S = 30.0, 10.0
TOPIC = "bench"
STOP_CODES = (0, 143, -15)
"""Exit codes of a `headwater stream run` stopped with SIGTERM (drained and committed)."""
DASH, TIMES, DIVIDED = "\u2013", "\u00d7", "\u00f7"
TARGETS = {
    "events_per_s": 2_000_000,
    "rss_mib": 1024,
    "p99_over_watermark_s": 0.5,
    "kafka_ratio": 0.8,
}
"""Issue 13's targets for Headwater, printed beside the results."""


class ArmFailed(Exception):
    """An arm could not run or exited non-zero."""


@dataclass
class Sample:
    """One timed run of one arm."""

    timed_s: float
    """The seconds events/s is computed from: the process's wall time, except for Spark
    (from the query's start to the end of its last micro-batch)."""
    wall_s: float
    rss_mib: float
    events_per_s: float
    startup_s: float | None = None
    report: dict[str, Any] = field(default_factory=dict)


@dataclass
class Row:
    """One arm in throughput mode."""

    tool: str
    what: str
    events: int
    samples: list[Sample] = field(default_factory=list)
    failed: str | None = None

    def rate(self) -> float | None:
        """Median events/s, or None without samples."""
        return statistics.median(s.events_per_s for s in self.samples) if self.samples else None


@dataclass
class LatencyRow:
    """One arm in latency mode."""

    tool: str
    what: str
    rss_mib: float = float("nan")
    rows: int = 0
    windows: int = 0
    p50_s: float = float("nan")
    p99_s: float = float("nan")
    report: dict[str, Any] = field(default_factory=dict)
    failed: str | None = None


@dataclass
class Bench:
    """Settings and results of one benchmark session."""

    args: argparse.Namespace
    rows: dict[str, Row] = field(default_factory=dict)
    latency_rows: dict[str, LatencyRow] = field(default_factory=dict)
    comparison: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables: dict[str, Path] = field(default_factory=dict)
    """The Delta table of each arm's last run, for the comparison."""
    floor_report: dict[str, Any] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    """Arms that cannot run, and why."""
    load_start: float = field(default_factory=lambda: os.getloadavg()[0])


# ---------------------------------------------------------------- helpers


def fresh(*parts: str) -> Path:
    """An empty folder under the work folder."""
    folder = WORK.joinpath(*parts)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def checked(result: measure.Measured, what: str, ok: tuple[int, ...] = (0,)) -> measure.Measured:
    """`result`, or ArmFailed with the end of its output when its exit code is not in `ok`."""
    if result.returncode not in ok:
        tail = (result.stderr.strip() or result.stdout.strip())[-2000:]
        first = next((line for line in tail.splitlines() if line.startswith("Error")), "")
        raise ArmFailed(f"{what} exited with {result.returncode}: {first}\n{tail}")
    return result


def spark_env() -> dict[str, str]:
    """Environment for Spark: loopback only, this Python for the workers."""
    return {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": PYTHON}


def headwater_ready(exe: Path) -> str | None:
    """Why Headwater's stream command cannot run, or None when it can."""
    if not exe.exists():
        return f"{exe} not found (install the project: `.venv/bin/pip install -e .`)"
    done = subprocess.run(
        [str(exe), "stream", "run", "--help"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip())[-400:]
        return (
            f"`{exe} stream run --help` exited with {done.returncode}, so this Headwater has "
            f"no `stream run` command yet: {tail}"
        )
    return None


def window_settings(batch: int) -> dict[str, Any]:
    """The stream settings every Headwater arm shares: the workload's window and watermark."""
    return {
        "event_time": "event_time",
        "window": {
            "type": "tumbling",
            "size": "10s",
            "key": ["key"],
            "aggregates": {"n": "count(*)", "total": "sum(value)", "top": "max(value)"},
        },
        "watermark": "30s",
        "max_batch_events": batch,
    }


def headwater_project(root: Path, stream: dict[str, Any]) -> tuple[Path, Path]:
    """Write a project with the one stream `bench`; return the project and its sink table."""
    import yaml

    project = root / "project"
    (project / "streams").mkdir(parents=True)
    (project / "headwater.yml").write_text("name: bench\nwarehouse: warehouse\nthreads: 2\n")
    text = yaml.safe_dump(stream, sort_keys=False, default_flow_style=None, width=100)
    (project / "streams" / "bench.yml").write_text(text)
    config = yaml.safe_load((project / "headwater.yml").read_text()) or {}
    warehouse = project / str(config.get("warehouse", "warehouse"))
    return project, warehouse / "streams" / "bench"


def generator_source(args: argparse.Namespace, events_total: int, rate: float | None) -> dict:
    """`source:` of the generator, with the workload's distribution."""
    spec = events.Spec(seed=args.seed)
    source: dict[str, Any] = {
        "kind": "generator",
        "seed": spec.seed,
        "keys": spec.keys,
        "events": events_total,
        "spacing": spec.spacing_s,
        "late_fraction": spec.late_fraction,
        "max_delay": f"{spec.max_delay_s:g}s",
    }
    if rate is not None:
        source["rate"] = rate
    return source


# ---------------------------------------------------------------- throughput arms


def floor_arm(bench: Bench, run: int) -> Sample:
    """One run of the floor over the generator's events."""
    args = bench.args
    out = fresh("floor", f"run{run}") / "out"
    cmd = [PYTHON, str(HERE / "floor.py"), str(out), "--events", str(args.events)]
    result = checked(
        measure.run([*cmd, "--batch", str(args.batch), "--seed", str(args.seed)]), "floor"
    )
    bench.tables["floor"], bench.floor_report = out, result.report
    rate = args.events / result.wall_s
    return Sample(result.wall_s, result.wall_s, result.peak_rss_mb, rate, None, result.report)


def spark_arm(bench: Bench, run: int) -> Sample:
    """One run of Spark Structured Streaming."""
    args = bench.args
    root = fresh("spark", f"run{run}")
    cmd = [PYTHON, str(HERE / "spark_arm.py"), str(root / "out"), str(root / "checkpoint")]
    cmd += ["--events", str(args.spark_events), "--batch", str(args.batch)]
    result = checked(measure.run(cmd, env=spark_env()), "spark")
    report = result.report
    if "events_per_s" not in report:
        raise ArmFailed(f"spark printed no measurements:\n{result.stdout[-2000:]}")
    bench.tables["spark"] = root / "out"
    return Sample(
        report["stream_s"],
        result.wall_s,
        result.peak_rss_mb,
        report["events_per_s"],
        report["startup_s"],
        report,
    )


def headwater_arm(bench: Bench, run: int) -> Sample:
    """One run of `headwater stream run bench --until-caught-up` over the generator."""
    args = bench.args
    stream = {"source": generator_source(args, args.events, None), **window_settings(args.batch)}
    project, sink = headwater_project(fresh("headwater", f"run{run}"), stream)
    cmd = [str(args.headwater), "stream", "run", "bench", "--until-caught-up"]
    result = checked(measure.run(cmd, cwd=project), f"headwater ({project})")
    bench.tables["headwater"] = sink
    report = {"rows_written": delta_rows(sink)}
    rate = args.events / result.wall_s
    return Sample(result.wall_s, result.wall_s, result.peak_rss_mb, rate, None, report)


def kafka_floor_arm(bench: Bench, run: int) -> Sample:
    """One run of the bare consumer loop over the pre-loaded topic."""
    args = bench.args
    cmd = [PYTHON, str(HERE / "kafka_arm.py"), "consume", args.brokers, TOPIC]
    result = checked(measure.run([*cmd, "--events", str(args.kafka_events)]), "kafka floor")
    report = result.report
    if report.get("rows") != args.kafka_events:
        raise ArmFailed(f"the consumer read {report.get('rows')} of {args.kafka_events} events")
    rate = args.kafka_events / result.wall_s
    return Sample(result.wall_s, result.wall_s, result.peak_rss_mb, rate, None, report)


def kafka_headwater_arm(bench: Bench, run: int) -> Sample:
    """One run of Headwater's stream over the pre-loaded topic (a fresh project and group)."""
    args = bench.args
    source = {
        "kind": "kafka",
        "brokers": args.brokers,
        "topic": TOPIC,
        "group": f"bench-headwater-{run}-{time.time_ns()}",
        "start": "earliest",
    }
    stream = {
        "source": source,
        "columns": {"event_time": "TIMESTAMP", "key": "BIGINT", "value": "DOUBLE"},
        **window_settings(args.batch),
    }
    project, sink = headwater_project(fresh("headwater-kafka", f"run{run}"), stream)
    cmd = [str(args.headwater), "stream", "run", "bench", "--until-caught-up"]
    result = checked(measure.run(cmd, cwd=project), f"headwater kafka ({project})")
    bench.tables["headwater"] = sink
    report = {"rows_written": delta_rows(sink)}
    rate = args.kafka_events / result.wall_s
    return Sample(result.wall_s, result.wall_s, result.peak_rss_mb, rate, None, report)


def delta_rows(path: Path) -> int | None:
    """Rows in the Delta table at `path` (None when there is none)."""
    from deltalake import DeltaTable

    try:
        return DeltaTable(str(path)).to_pyarrow_dataset().count_rows()
    except Exception:
        return None


Arm = tuple[str, int, Callable[[Bench, int], Sample]]
"""What an arm does (for the table), how many events, and the function running it once."""


def runs_wanted(bench: Bench, row: Row) -> int:
    """`--runs`, else 5 for an arm whose first run took under 10 s and 3 otherwise (the
    benchmark rules of shared/BENCHMARKS.md)."""
    if bench.args.runs:
        return int(bench.args.runs)
    return 5 if row.samples and row.samples[0].timed_s < 10 else 3


def throughput(bench: Bench, arms: dict[str, Arm]) -> None:
    """Run every arm its number of times, the arms taking turns (an unavailable one fails)."""
    for tool, (what, total, _) in arms.items():
        bench.rows[tool] = Row(tool, what, total, failed=bench.unavailable.get(tool))
    for run in range(bench.args.runs or 5):
        for tool, (_, _, arm) in arms.items():
            row = bench.rows[tool]
            if row.failed or (row.samples and len(row.samples) >= runs_wanted(bench, row)):
                continue
            of = f" of {runs_wanted(bench, row)}" if row.samples or bench.args.runs else ""
            print(f"run {run + 1}{of}: {tool} ...", flush=True)
            try:
                sample = arm(bench, run)
            except ArmFailed as exc:
                row.failed = str(exc)
                print(f"  FAILED: {exc}", flush=True)
                continue
            row.samples.append(sample)
            startup = f", start-up {sample.startup_s:.1f} s" if sample.startup_s else ""
            print(
                f"  {sample.events_per_s:,.0f} events/s, {sample.timed_s:.2f} s timed, "
                f"{sample.wall_s:.2f} s wall{startup}, "
                f"peak RSS {sample.rss_mib:,.0f} MiB",
                flush=True,
            )


# ---------------------------------------------------------------- comparison


def compare_windows(bench: Bench, reference: Path, cutoff_us: int, label: str) -> None:
    """Compare Headwater's sink with `reference` on the windows closed by `cutoff_us`."""
    import duckdb
    from deltalake import DeltaTable

    sink = bench.tables.get("headwater")
    if sink is None or not (sink / "_delta_log").exists():
        bench.comparison.append(f"no Headwater sink table to compare with the {label}")
        return
    if not (reference / "_delta_log").exists():
        bench.comparison.append(
            f"the {label} closed no window (too few events for the 30 s watermark to pass a "
            "window's end): nothing to compare"
        )
        return
    ours = DeltaTable(str(reference)).to_pyarrow_table()  # noqa: F841 - read by DuckDB
    theirs = DeltaTable(str(sink)).to_pyarrow_table()
    needed = {"window_start", "window_end", "key", "n", "total", "top"}
    if not needed <= set(theirs.column_names):
        bench.comparison.append(
            f"Headwater's sink has columns {theirs.column_names}, not {sorted(needed)}: "
            "not compared"
        )
        return
    con = duckdb.connect()
    cutoff = f"make_timestamp({cutoff_us}::bigint)"
    sql = f"""
        with f as (select * from ours where window_end <= {cutoff}),
             h as (select window_start::timestamp as window_start, key, n, total, top
                   from theirs where window_end::timestamp <= {cutoff})
        select
            (select count(*) from f), (select count(*) from h),
            (select sum(n) from f), (select sum(n) from h),
            count(*) filter (where f.key is not null and h.key is not null and f.n = h.n
                             and abs(f.total - h.total) < 1e-6 and f.top = h.top),
            count(*) filter (where f.key is not null and h.key is not null
                             and (f.n <> h.n or abs(f.total - h.total) >= 1e-6 or f.top <> h.top)),
            count(*) filter (where h.key is null),
            count(*) filter (where f.key is null),
            (select count(*) from theirs where window_end::timestamp > {cutoff}),
            (select count(*) from (
                select window_start, key from theirs group by all having count(*) > 1))
        from f full join h using (window_start, key)
    """
    found = con.execute(sql).fetchone()
    assert found is not None
    f_rows, h_rows, f_n, h_n, same, differ, only_f, only_h, later, dups = found
    cut = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=cutoff_us)
    bench.comparison += [
        f"windows ending at or before {cut:%Y-%m-%d %H:%M:%S} (the {label}'s last watermark): "
        f"{label} {f_rows:,} rows holding {f_n or 0:,} events, Headwater {h_rows:,} rows "
        f"holding {h_n or 0:,} events",
        f"rows equal (count, sum within 1e-6, max): {same:,}; differing: {differ:,}; only in "
        f"the {label}: {only_f:,}; only in Headwater: {only_h:,}",
        f"Headwater rows of later windows (closed by its own watermark or flushed at the "
        f"end): {later:,}; duplicate (window, key) rows in Headwater: {dups:,}",
    ]


def kafka_oracle(bench: Bench) -> tuple[Path, int]:
    """The floor's windows over the events loaded into the topic (untimed, in this process)."""
    out = fresh("kafka", "oracle") / "out"
    windows = floor.Windows(str(out))
    for table in events.batches(
        events.Spec(seed=bench.args.seed), bench.args.kafka_events, bench.args.batch
    ):
        windows.add(table)
    return out, windows.watermark_us


# ---------------------------------------------------------------- latency


def latency_arm(bench: Bench, tool: str) -> LatencyRow:
    """Run one arm in real time with a reader polling its table; return its latencies."""
    args = bench.args
    root = fresh("latency", tool)
    row = LatencyRow(tool, f"{args.rate:,.0f} events/s for {args.duration:g} s")
    stop_after, ok = None, (0,)
    cwd = None
    env = None
    if tool == "floor":
        table = root / "out"
        cmd = [PYTHON, str(HERE / "floor.py"), str(table), "--mode", "latency"]
        cmd += [
            "--duration",
            str(args.duration),
            "--rate",
            str(args.rate),
            "--tick",
            str(args.tick),
        ]
    elif tool == "spark":
        table = root / "out"
        cmd = [PYTHON, str(HERE / "spark_arm.py"), str(table), str(root / "checkpoint")]
        cmd += ["--mode", "latency", "--duration", str(args.duration), "--rate", str(args.rate)]
        cmd += ["--tick", str(args.tick)]
        env = spark_env()
    else:
        total = int(args.duration * args.rate)
        stream = {
            "source": generator_source(args, total, args.rate),
            **window_settings(args.batch),
            "trigger": args.tick,
        }
        cwd, table = headwater_project(root, stream)
        cmd = [str(args.headwater), "stream", "run", "bench"]
        # a stream runs until stopped: SIGTERM drains the batch in hand and commits it
        stop_after, ok = args.duration + args.hw_grace, STOP_CODES
    reader = Reader(table)
    started = time.time()
    print(f"latency: {tool} for {args.duration:g} s ...", flush=True)
    try:
        result = checked(
            measure.run(cmd, cwd=cwd, env=env, stop_after_s=stop_after, on_start=reader.start),
            tool,
            ok,
        )
    except ArmFailed as exc:
        row.failed = str(exc)
        print(f"  FAILED: {exc}", flush=True)
        reader.stop()
        return row
    reader.stop()
    if reader.error:
        row.failed = f"the reader failed: {reader.error}"
        return row
    found: Latencies = reader.latencies(since=started + SIZE_S)
    row.rss_mib, row.report = result.peak_rss_mb, result.report
    row.rows, row.windows = len(found.seconds), found.windows
    row.p50_s, row.p99_s = found.percentile(50), found.percentile(99)
    print(
        f"  {row.windows} windows, {row.rows:,} rows: p50 {row.p50_s:.2f} s, p99 "
        f"{row.p99_s:.2f} s (watermark {WATERMARK_S:g} s), peak RSS {row.rss_mib:,.0f} MiB",
        flush=True,
    )
    return row


# ---------------------------------------------------------------- report


def ratio(mine: float | None, theirs: float | None) -> str:
    """mine / theirs as e.g. `1.23` and a multiplication sign, or a dash."""
    if not mine or not theirs:
        return DASH
    return f"{mine / theirs:.2f}{TIMES}"


def throughput_table(bench: Bench) -> list[str]:
    """The throughput results as a markdown table."""
    floor_rate = bench.rows["floor"].rate() if "floor" in bench.rows else None
    spark_rate = bench.rows["spark"].rate() if "spark" in bench.rows else None
    lines = [
        f"| tool | what was timed | events | runs | median s | min{DASH}max s | events/s "
        f"| peak RSS MiB | start-up s | {TIMES} floor | {TIMES} spark |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in bench.rows.values():
        if row.failed or not row.samples:
            reason = (row.failed or "no runs").splitlines()[0][:160]
            lines.append(
                f"| {row.tool} | {row.what} | {row.events:,} | 0 | failed: {reason} |||||||"
            )
            continue
        walls = [s.timed_s for s in row.samples]
        rate = row.rate()
        rss = max(s.rss_mib for s in row.samples)
        startups = [s.startup_s for s in row.samples if s.startup_s is not None]
        startup = f"{statistics.median(startups):.1f}" if startups else DASH
        lines.append(
            f"| {row.tool} | {row.what} | {row.events:,} | {len(walls)} "
            f"| {statistics.median(walls):.2f} | {min(walls):.2f}{DASH}{max(walls):.2f} "
            f"| {rate:,.0f} | {rss:,.0f} | {startup} | {ratio(rate, floor_rate)} "
            f"| {ratio(rate, spark_rate)} |"
        )
    return lines


def latency_table(bench: Bench) -> list[str]:
    """The latency results as a markdown table."""
    lines = [
        "| tool | what | windows | rows | p50 s | p99 s | p50 over watermark | p99 over watermark "
        "| peak RSS MiB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in bench.latency_rows.values():
        if row.failed:
            reason = row.failed.splitlines()[0][:160]
            lines.append(f"| {row.tool} | {row.what} | failed: {reason} ||||||")
            continue
        lines.append(
            f"| {row.tool} | {row.what} | {row.windows} | {row.rows:,} | {row.p50_s:.2f} "
            f"| {row.p99_s:.2f} | {row.p50_s - WATERMARK_S:+.2f} | {row.p99_s - WATERMARK_S:+.2f} "
            f"| {row.rss_mib:,.0f} |"
        )
    return lines


def comparison_lines(bench: Bench) -> list[str]:
    """Headwater against the floor and Spark, and against issue 13's targets."""
    lines = []
    if bench.args.mode == "latency":
        hw = bench.latency_rows.get("headwater")
        if hw is None or hw.failed:
            return lines
        for other in ("floor", "spark"):
            peer = bench.latency_rows.get(other)
            if peer is None or peer.failed:
                continue
            lines.append(
                f"- headwater vs {other}: overhead over the watermark p50 "
                f"{hw.p50_s - WATERMARK_S:+.2f} s vs {peer.p50_s - WATERMARK_S:+.2f} s, p99 "
                f"{hw.p99_s - WATERMARK_S:+.2f} s vs {peer.p99_s - WATERMARK_S:+.2f} s; peak RSS "
                f"{ratio(hw.rss_mib, peer.rss_mib)}"
            )
        met = hw.p99_s - WATERMARK_S <= TARGETS["p99_over_watermark_s"]
        lines.append(
            f"- target p99 <= watermark + {TARGETS['p99_over_watermark_s']} s: "
            f"{'met' if met else 'NOT met'}"
        )
        return lines
    hw_row = bench.rows.get("headwater")
    if hw_row is None or not hw_row.samples:
        return lines
    rate = hw_row.rate() or 0
    rss = max(s.rss_mib for s in hw_row.samples)
    for other in ("floor", "spark"):
        peer = bench.rows.get(other)
        if peer and peer.samples:
            peer_rss = max(s.rss_mib for s in peer.samples)
            lines.append(
                f"- headwater {DIVIDED} {other}: events/s {ratio(rate, peer.rate())}, peak RSS "
                f"{ratio(rss, peer_rss)}"
            )
    if bench.args.source == "kafka":
        peer = bench.rows.get("floor")
        if peer and peer.samples:
            met = rate >= TARGETS["kafka_ratio"] * (peer.rate() or 0)
            lines.append(
                f"- target >= {TARGETS['kafka_ratio']}{TIMES} the bare consumer: "
                f"{'met' if met else 'NOT met'}"
            )
    else:
        met = rate >= TARGETS["events_per_s"]
        lines.append(
            f"- target >= {TARGETS['events_per_s']:,} events/s: {'met' if met else 'NOT met'}"
        )
    met = rss < TARGETS["rss_mib"]
    lines.append(f"- target peak RSS < {TARGETS['rss_mib']} MiB: {'met' if met else 'NOT met'}")
    return lines


def versions() -> str:
    """Versions of what was benchmarked."""
    parts = []
    for package in (
        "duckdb",
        "deltalake",
        "pyarrow",
        "numpy",
        "pyspark",
        "confluent-kafka",
        "headwater",
    ):
        try:
            parts.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{package} not installed")
    return ", ".join(parts)


def report(bench: Bench) -> str:
    """The whole markdown report."""
    args = bench.args
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load_end = os.getloadavg()[0]
    lines = [
        f"# Streaming benchmark ({args.mode}, source {args.source})",
        "",
        f"{now}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}; "
        f"{versions()}. 1-min load average {bench.load_start:.1f} at the start, "
        f"{load_end:.1f} at the end.",
        "Generated by `bench/streaming/run.py`. Machines are shared and noisy: compare the "
        "ratios, measured side by side in one run, not the absolute numbers.",
    ]
    if bench.load_start > 1 or load_end > (os.cpu_count() or 1) + 1:
        lines.append("**Warning: the machine was busy**: the numbers are inflated and noisy.")
    lines.append("")
    lines += latency_table(bench) if args.mode == "latency" else throughput_table(bench)
    found = comparison_lines(bench)
    if found:
        lines += ["", "Comparison:", *found]
    if bench.comparison:
        lines += [
            "",
            "Headwater's table against the reference:",
            *[f"- {c}" for c in bench.comparison],
        ]
    if bench.notes:
        lines += ["", "Notes:", *[f"- {n}" for n in bench.notes]]
    return "\n".join(lines)


def as_json(bench: Bench, text: str) -> dict[str, Any]:
    """Everything measured, for `--json`."""
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(bench.args).items()}
    return {
        "settings": settings,
        "versions": versions(),
        "throughput": {tool: asdict(row) for tool, row in bench.rows.items()},
        "latency": {tool: asdict(row) for tool, row in bench.latency_rows.items()},
        "comparison": bench.comparison,
        "notes": bench.notes,
        "report": text,
    }


# ---------------------------------------------------------------- main


def select_tools(bench: Bench) -> list[str]:
    """The arms asked for that can run; a note for each that cannot."""
    chosen = []
    for tool in [t.strip() for t in bench.args.tools.split(",") if t.strip()]:
        if tool not in ("floor", "spark", "headwater"):
            raise SystemExit(f"unknown tool {tool!r}: use floor, spark, headwater")
        if tool == "spark" and bench.args.source == "kafka":
            bench.notes.append(
                "spark skipped for the Kafka variant: its Kafka connector jars cannot be "
                "fetched here (no Maven)"
            )
            continue
        if tool == "headwater":
            why = headwater_ready(bench.args.headwater)
            if why:
                bench.unavailable[tool] = why
                print(f"HEADWATER ARM FAILS: {why}", flush=True)
        chosen.append(tool)
    return chosen


def run_generator(bench: Bench, tools: list[str]) -> None:
    """Throughput mode over generated events."""
    args = bench.args
    every = {
        "floor": (f"numpy -> DuckDB -> Delta, batches of {args.batch:,}", args.events, floor_arm),
        "spark": ("Structured Streaming local[2] (excl. start-up)", args.spark_events, spark_arm),
        "headwater": ("stream run --until-caught-up", args.events, headwater_arm),
    }
    throughput(bench, {tool: every[tool] for tool in tools})
    if args.spark_events != args.events and "spark" in tools:
        bench.notes.append(
            f"Spark ran {args.spark_events:,} events (--spark-events), the others "
            f"{args.events:,}: compare events/s, not seconds"
        )
    if "spark" in tools:
        bench.notes.append(
            "Spark's events are derived from the rate-micro-batch source's counter with SQL "
            "hashes: the same distribution as the floor's, not the same events"
        )
    hw = bench.rows.get("headwater")
    if hw and hw.samples and "floor" in bench.tables:
        compare_windows(
            bench, bench.tables["floor"], bench.floor_report["final_watermark_us"], "floor"
        )


def run_kafka(bench: Bench, tools: list[str]) -> None:
    """Throughput mode over events pre-loaded into a Tansu topic."""
    args = bench.args
    root = fresh("kafka")
    broker, args.brokers = kafka_arm.start_broker(root / "tansu.log")
    try:
        kafka_arm.create_topic(args.brokers, TOPIC)
        print(
            f"pre-loading {args.kafka_events:,} events into {args.brokers}/{TOPIC} ...", flush=True
        )
        took = kafka_arm.preload(
            args.brokers, TOPIC, args.kafka_events, events.Spec(seed=args.seed)
        )
        bench.notes.append(
            f"pre-loading {args.kafka_events:,} JSON events into 2 partitions took {took:.1f} s "
            f"({args.kafka_events / took:,.0f} events/s, untimed)"
        )
        every = {
            "floor": ("confluent-kafka consumer loop, JSON -> Arrow", kafka_floor_arm),
            "headwater": ("stream run --until-caught-up, kafka source", kafka_headwater_arm),
        }
        throughput(
            bench, {tool: (every[tool][0], args.kafka_events, every[tool][1]) for tool in tools}
        )
    finally:
        kafka_arm.stop_broker(broker)
    bench.notes.append(
        "the Kafka floor only consumes and decodes (no window, no Delta write); Headwater does "
        "the whole stream"
    )
    hw = bench.rows.get("headwater")
    if hw and hw.samples:
        oracle, cutoff = kafka_oracle(bench)
        compare_windows(bench, oracle, cutoff, "oracle")
        bench.notes.append(
            "oracle: the floor's window code run over the events loaded into the topic, in "
            "this process, untimed"
        )


def run_latency(bench: Bench, tools: list[str]) -> None:
    """Latency mode: each arm in turn, in real time."""
    for tool in tools:
        if tool in bench.unavailable:
            bench.latency_rows[tool] = LatencyRow(tool, "", failed=bench.unavailable[tool])
            continue
        bench.latency_rows[tool] = latency_arm(bench, tool)
    bench.notes.append(
        f"latency counts every (window, key) row of windows ending at least {SIZE_S:g} s after "
        "the arm's process started; the reader polls every 50 ms (adds 25 ms on average)"
    )


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=("throughput", "latency"), default="throughput")
    parser.add_argument("--source", choices=("generator", "kafka"), default="generator")
    parser.add_argument("--tools", default="floor,spark,headwater", help="comma-separated arms")
    parser.add_argument("--events", type=int, default=20_000_000, help="floor and headwater")
    parser.add_argument("--spark-events", type=int, help="Spark's events (default: --events)")
    parser.add_argument("--kafka-events", type=int, default=2_000_000, help="--source kafka")
    parser.add_argument("--batch", type=int, default=1_000_000, help="events per micro-batch")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--runs", type=int, help="throughput: timed runs per arm (default 5 under 10 s, else 3)"
    )
    parser.add_argument("--duration", type=float, default=60, help="latency: seconds of events")
    parser.add_argument("--rate", type=float, default=10_000, help="latency: events/s")
    parser.add_argument("--tick", type=float, default=0.1, help="latency: trigger interval s")
    parser.add_argument(
        "--hw-grace", type=float, default=5, help="latency: seconds Headwater runs past --duration"
    )
    parser.add_argument("--headwater", type=Path, default=HEADWATER, help="its executable")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    args.spark_events = args.spark_events or args.events
    args.brokers = ""
    bench = Bench(args)
    tools = select_tools(bench)
    if args.mode == "latency":
        if args.source == "kafka":
            raise SystemExit("--mode latency runs on the generator only")
        run_latency(bench, tools)
    elif args.source == "kafka":
        run_kafka(bench, tools)
    else:
        run_generator(bench, tools)
    text = report(bench)
    print()
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(as_json(bench, text), indent=2, default=str))
        print(f"written to {args.json}")
    failed = [r.tool for r in [*bench.rows.values(), *bench.latency_rows.values()] if r.failed]
    if failed:
        print(f"\nfailed arms: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Serving benchmark (workload "Serving" of shared/BENCHMARKS.md): TPC-H SF1 lineitem as a
Delta table, served over HTTP by Headwater, the floor, roapi and datasette, and over the
PostgreSQL protocol by Headwater beside PostgreSQL itself, in one run on the same data.

Data (bench/serving/data.py, kept under `--data`, made once): lineitem (6,001,215 rows, from
tpchgen-cli) written as a Delta table with deltalake (Parquet row groups of 122,880 rows, as
DuckDB writes them), an indexed SQLite copy for datasette, a PostgreSQL 15 cluster holding it.

Headwater serves a project made fresh under bench/.work/serving/project whose warehouse is the
data folder's, with the table declared (a `files` source `tpch`, so `tpch.lineitem` is an
asset a role can grant; it is never ingested: the table is the one deltalake wrote) and
`serve.tables."tpch.lineitem": {keys: [l_orderkey, l_linenumber], cache: true}`; a user whose
role reads only that table signs in with its token (HTTP) or password (PostgreSQL).

Queries, parameters drawn from `--seed`:
- q1: point lookup `l_orderkey = ?` (an existing order: 1 to 7 rows)
- q2: `sum(l_extendedprice)` group by `l_returnflag` over one month of `l_shipdate`
- q3: keyset page `l_shipmode = 'AIR' and l_orderkey > ? order by l_orderkey, l_linenumber
  limit 1000`
Per system and query: one answer checked against the floor's (the run fails when one
differs), `--warmup` requests, `--requests` sequential requests (p50, p99), then `--clients`
threads, each with its own connection, sending `--concurrent-requests` more (req/s). A phase
stops early after `--phase-seconds` (a slow system gets fewer samples; the table says so).
Each system is its own process, started before and stopped after its turn, so they never
compete; peak RSS is that process tree's, polled every 50 ms. The client runs on the same
machine, in this process.

PostgreSQL protocol: the same queries through psycopg 3 against `headwater serve`'s PostgreSQL
port, and `--stream-rows` rows (`select * ... limit N`) streamed to psycopg from Headwater and
from PostgreSQL 15 (bench/serving/pgstream.py), median of `--stream-runs`.

Usage:
  .venv/bin/python bench/serving/run.py --out bench/results/serving.md
  .venv/bin/python bench/serving/run.py --systems floor,headwater --requests 50  # a quick try
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
REPO = BENCH.parent
sys.path.insert(0, str(HERE))

import pgstream  # noqa: E402
import systems  # noqa: E402
from workload import (  # noqa: E402
    QUERIES,
    WHAT,
    Latency,
    LoadWatch,
    Params,
    PeakRss,
    Throughput,
    concurrent,
    make_params,
    normalise,
    same_rows,
    sequential,
    write_text,
)

import data  # noqa: E402

WORK = BENCH / ".work" / "serving"
DATA = BENCH / ".data" / "serving"
VENVS = BENCH / ".venvs"
ROAPI = Path(sys.executable).parent / "roapi"
DATASETTE = VENVS / "datasette" / "bin" / "datasette"
USER, PASSWORD = "bench", "bench-serving-password"
TABLE = f"{data.NAMESPACE}.{data.TABLE}"
ALL_SYSTEMS = ("floor", "headwater", "roapi", "datasette", "postgres")
TARGETS = {
    "q1_p99_ms": 10.0,
    "q3_p50_ms": 50.0,
    "stream_ratio": 0.5,
}
"""Issue 15's targets: q1 p99 <= 10 ms, q2 p50 <= the floor's, q3 p50 <= 50 ms, 8-client
throughput >= the floor's, 1M rows over the PostgreSQL port >= 0.5x PostgreSQL."""
DASH, TIMES = "\u2013", "\u00d7"


class WrongAnswer(AssertionError):
    """A system's answer differs from the floor's."""


@dataclass
class QueryResult:
    """One query on one system."""

    latency: Latency | None = None
    throughput: Throughput | None = None
    check: str = ""
    error: str | None = None


@dataclass
class SystemResult:
    """One system's turn."""

    name: str
    label: str
    what: str
    queries: dict[str, QueryResult] = field(default_factory=dict)
    rss_mib: float | None = None
    start_s: float | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Session:
    """Settings, reference answers and results of one run."""

    args: argparse.Namespace
    params: Params
    reference: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    results: dict[str, SystemResult] = field(default_factory=dict)
    streams: dict[str, dict[str, pgstream.Stream]] = field(default_factory=dict)
    stream_rss: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- setup


def ensure_roapi() -> Path:
    """roapi's binary: installed into this interpreter's environment from PyPI when missing."""
    if not ROAPI.exists():
        print("installing roapi with pip (a wheel with its Rust binary)")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "roapi"], check=True)
    return ROAPI


def ensure_datasette() -> Path:
    """datasette in a virtual environment of its own (bench/.venvs/datasette): its pins
    should not move the project's."""
    if not DATASETTE.exists():
        print("installing datasette into bench/.venvs/datasette")
        venv = VENVS / "datasette"
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "datasette"], check=True)
    return DATASETTE


def make_project(root: Path, data_dir: Path, max_rows: int) -> str:
    """Write the bench project (warehouse = the data folder's) and add the bench user; its
    API token."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "sources").mkdir(parents=True)
    warehouse = data_dir / "warehouse"
    (root / "headwater.yml").write_text(
        f"name: serving_bench\n"
        f"warehouse: {warehouse}\n"
        "serve:\n"
        "  roles:\n"
        f"    reader: {{read: [{TABLE}]}}\n"
        "  limits:\n"
        f"    max_rows: {max_rows}\n"
        "    timeout: 600s\n"
        "    max_concurrent: 16\n"
        "  tables:\n"
        f"    {TABLE}: {{keys: [l_orderkey, l_linenumber], cache: true}}\n"
    )
    # Declared so that a role can grant it; never ingested (the Delta table is deltalake's).
    (root / "sources" / f"{data.NAMESPACE}.yml").write_text(
        "kind: files\n"
        "tables:\n"
        f"  {data.TABLE}:\n"
        f"    path: {data.parquet_source()}\n"
        "    primary_key: [l_orderkey, l_linenumber]\n"
        "    mode: replace\n"
    )
    done = subprocess.run(
        [*systems.HEADWATER, "users", "add", USER, "--role", "reader", "--password"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "HEADWATER_PASSWORD": PASSWORD},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"headwater users add failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


# ---------------------------------------------------------------- measuring


def check(session: Session, system: str, query: str, rows: list[list[Any]]) -> str:
    """Compare an answer with the floor's (the floor's own becomes the reference)."""
    ordered = query == "q3"
    got = normalise(rows, ordered)
    if system == "floor":
        session.reference[query] = got
        return f"reference ({len(got)} rows)"
    expected = session.reference.get(query)
    if expected is None:
        return "not checked (no floor answer)"
    problem = same_rows(got, expected)
    if problem is not None:
        session.wrong.append(f"{system} {query}: {problem}")
        raise WrongAnswer(f"{query}: {problem}")
    return f"equal ({len(got)} rows)"


def measure_query(session: Session, system: systems.System, query: str) -> QueryResult:
    """Check, warm up, time sequentially, then with `--clients` threads."""
    args = session.args
    values = session.params.of(query)
    result = QueryResult()
    call = system.caller(query)
    try:
        result.check = check(session, system.name, query, call(values[0]))
        for value in values[1 : 1 + args.warmup]:
            call(value)
        start = 1 + args.warmup
        result.latency = sequential(call, values[start : start + args.requests], args.phase_seconds)
    finally:
        close = getattr(call, "close", None)
        if close is not None:
            close()
    start = 1 + args.warmup + args.requests
    result.throughput = concurrent(
        lambda: system.caller(query),
        values[start : start + args.concurrent_requests],
        args.clients,
        args.phase_seconds,
    )
    return result


def run_queries(session: Session, system: systems.System, result: SystemResult) -> None:
    """The three queries on a started system, each failure recorded against its query."""
    for query in QUERIES:
        print(f"  {system.name} {query} ...", flush=True)
        try:
            result.queries[query] = measure_query(session, system, query)
            r = result.queries[query]
            assert r.latency is not None and r.throughput is not None
            print(
                f"    p50 {r.latency.p50_ms:.1f} ms p99 {r.latency.p99_ms:.1f} ms "
                f"(n={len(r.latency.samples)}), {r.throughput.per_s:.1f} req/s; {r.check}",
                flush=True,
            )
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            result.queries[query] = QueryResult(error=message)
            print(f"    failed: {message[:500]}", flush=True)
            if not isinstance(exc, WrongAnswer) and session.args.debug:
                traceback.print_exc()
            if not system.alive():
                raise RuntimeError(f"the server exited:\n{system.tail()}") from None


def take_turn(session: Session, system: systems.System, then: Any = None) -> SystemResult:
    """Start a system, measure it, run `then(system)` while it still runs, stop it."""
    result = SystemResult(system.name, system.label, system.what)
    session.results[system.name] = result
    print(f"{system.label}: starting", flush=True)
    started = time.perf_counter()
    try:
        system.start()
        result.start_s = time.perf_counter() - started
        cache = getattr(system, "cache", None)
        if cache:
            memory = cache.get("memory_bytes") or 0
            result.notes.append(
                f"the serving cache held version {cache.get('version')} ({cache.get('rows'):,} "
                f"rows, {memory / 2**20:,.0f} MiB in its DuckDB) "
                f"{getattr(system, 'cache_ready_s', 0):.1f} s after the server answered; "
                "the timed requests started after that"
            )
        run_queries(session, system, result)
        # Before `then`: what follows on the same process is measured on its own.
        result.rss_mib = system.rss.peak_mib if system.rss else None
        if then is not None:
            then(system)
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        print(f"  {system.label} failed: {result.error[:1500]}", flush=True)
        if session.args.debug:
            traceback.print_exc()
    finally:
        if result.rss_mib is None and system.rss is not None:
            result.rss_mib = system.rss.peak_mib
        system.stop()
        result.notes += system.notes
        for query, sources in sorted(getattr(system, "sources", {}).items()):
            result.notes.append(
                f"{query} rows were read from: {', '.join(sorted(sources))} "
                "(`X-Headwater-Source` of every response)"
            )
    return result


STREAM_SQL = "select * from {t} limit {n}"


def stream_from(session: Session, name: str, dsn: str, table: str, pid: int) -> None:
    """The 1M-row result in both modes from one server."""
    args = session.args
    sql = STREAM_SQL.format(t=table, n=args.stream_rows)
    rss = PeakRss(pid)
    session.streams[name] = {}
    for mode in pgstream.MODES:
        print(f"  {name}: {args.stream_rows:,} rows to psycopg ({mode}) ...", flush=True)
        found = pgstream.measure(dsn, sql, mode, args.stream_runs)
        session.streams[name][mode] = found
        if found.error:
            print(f"    failed: {found.error}", flush=True)
        else:
            print(f"    {found.median_s:.2f} s, {found.rows_per_s:,.0f} rows/s", flush=True)
            if found.rows != args.stream_rows:
                session.wrong.append(
                    f"{name} stream {mode}: {found.rows} rows, not {args.stream_rows}"
                )
    session.stream_rss[name] = rss.stop()


def headwater_pg(session: Session, served: systems.Headwater) -> None:
    """The PostgreSQL protocol face of the running Headwater: the queries, then the stream."""
    face = systems.HeadwaterPg(served)
    result = SystemResult(face.name, face.label, face.what)
    session.results[face.name] = result
    if served.pg is None:
        result.error = f"the PostgreSQL port did not start: {served.pg_refused}"
        print(f"  {result.error}", flush=True)
        return
    rss = PeakRss(served.pid)
    try:
        run_queries(session, face, result)
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    result.rss_mib = rss.stop()
    if "postgres" in session.args.systems:
        stream_from(session, "headwater", served.pg_dsn(), TABLE, served.pid)


def postgres_turn(session: Session) -> None:
    """PostgreSQL 15 serving the same rows to psycopg."""
    print("PostgreSQL 15: starting (lineitem is loaded into it the first time)", flush=True)
    server = data.Postgres(session.args.data)
    try:
        server.start()
        assert server.pid is not None
        stream_from(session, "postgres", server.dsn(), "lineitem", server.pid)
    except Exception as exc:
        session.notes.append(f"PostgreSQL could not be measured: {type(exc).__name__}: {exc}")
        print(session.notes[-1], flush=True)
    finally:
        server.stop()


# ---------------------------------------------------------------- report


def fmt_ms(value: float) -> str:
    """Milliseconds with sensible precision."""
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def ratio(value: float | None, floor: float | None) -> str:
    """`value / floor` as a factor (`1.23` and the times sign), or a dash."""
    if value is None or floor is None or floor == 0:
        return DASH
    return f"{value / floor:.2f}{TIMES}"


def version_of(package: str) -> str:
    """An installed package's version, or '-'."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return DASH


def tool_version(command: list[str]) -> str:
    """The first line a tool's --version prints, or '-'."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return DASH
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else DASH


def datasette_version() -> str:
    """datasette's version, or a dash when its venv is missing."""
    if not DATASETTE.exists():
        return DASH
    return tool_version([str(DATASETTE), "--version"]).split()[-1]


def verdicts(session: Session) -> list[tuple[str, str, str]]:
    """(target, Headwater's figure, met?) for each of the issue's targets."""
    hw = session.results.get("headwater")
    floor = session.results.get("floor")
    out: list[tuple[str, str, str]] = []

    def q(result: SystemResult | None, query: str) -> QueryResult | None:
        found = result.queries.get(query) if result else None
        return found if found and found.latency and found.throughput else None

    hq1, hq2, hq3 = q(hw, "q1"), q(hw, "q2"), q(hw, "q3")
    fq2 = q(floor, "q2")
    if hq1 and hq1.latency:
        p99 = hq1.latency.p99_ms
        out.append(
            ("point lookup p99 ≤ 10 ms", f"{fmt_ms(p99)} ms", "met" if p99 <= 10 else "**not met**")
        )
    if hq2 and fq2 and hq2.latency and fq2.latency:
        a, b = hq2.latency.p50_ms, fq2.latency.p50_ms
        out.append(
            (
                "aggregate p50 ≤ the floor's",
                f"{fmt_ms(a)} vs {fmt_ms(b)} ms",
                "met" if a <= b else "**not met**",
            )
        )
    if hq3 and hq3.latency:
        p50 = hq3.latency.p50_ms
        out.append(
            (
                "1,000-row page p50 ≤ 50 ms",
                f"{fmt_ms(p50)} ms",
                "met" if p50 <= 50 else "**not met**",
            )
        )
    for query in QUERIES:
        h, f = q(hw, query), q(floor, query)
        if h and f and h.throughput and f.throughput:
            a, b = h.throughput.per_s, f.throughput.per_s
            out.append(
                (
                    f"{session.args.clients}-client {query} req/s ≥ the floor's",
                    f"{a:,.1f} vs {b:,.1f} ({ratio(a, b)})",
                    "met" if a >= b else "**not met**",
                )
            )
    hs, ps = session.streams.get("headwater", {}), session.streams.get("postgres", {})
    for mode in pgstream.MODES:
        h, p = hs.get(mode), ps.get(mode)
        if h and p and not h.error and not p.error:
            share = h.rows_per_s / p.rows_per_s
            out.append(
                (
                    f"{session.args.stream_rows:,} rows over the PostgreSQL port ≥ 0.5{TIMES} "
                    f"PostgreSQL ({mode})",
                    f"{share:.3f}{TIMES}",
                    "met" if share >= TARGETS["stream_ratio"] else "**not met**",
                )
            )
        elif h and h.error:
            out.append((f"1M rows over the PostgreSQL port ({mode})", h.error, "**not met**"))
    return out


def report(session: Session, load: tuple[float, float, float], began: str, wall_s: float) -> str:
    """The results as markdown."""
    args = session.args
    lines = [
        "# Serving (TPC-H SF1 lineitem, 6,001,215 rows, as a Delta table)",
        "",
        f"Command: `.venv/bin/python {' '.join(sys.argv)}`",
        "",
        f"Run {began}, {wall_s / 60:.1f} min, on {platform.node()} ({os.cpu_count()} cores, "
        f"Python {platform.python_version()}); load average (1 min) "
        f"{load[0]:.2f} at the start, median {load[1]:.2f}, max {load[2]:.2f} "
        "(other work shared the machine: compare ratios, not absolute times).",
        f"Versions: headwater {version_of('headwater')}, duckdb {version_of('duckdb')}, "
        f"deltalake {version_of('deltalake')}, fastapi {version_of('fastapi')}, "
        f"uvicorn {version_of('uvicorn')}, psycopg {version_of('psycopg')}, "
        f"roapi {version_of('roapi')}, datasette "
        f"{datasette_version()}, "
        f"{tool_version(['postgres', '--version'])}.",
        "",
        f"Each query: one answer checked against the floor's, {args.warmup} warm-up requests, "
        f"{args.requests} sequential requests (p50, p99), then {args.clients} client threads "
        f"each with its own connection sending {args.concurrent_requests} requests (req/s); a "
        f"phase stops after {args.phase_seconds:.0f} s (n says how many were sent). Parameters "
        f"from seed {args.seed}. The client is Python in the benchmark process on the same "
        "machine (http.client keep-alive connections; psycopg 3), and its own time is "
        "included. Each system is its own process, running alone during its turn.",
        "",
        "| system | what |",
        "| --- | --- |",
    ]
    for result in session.results.values():
        lines.append(f"| {result.label} | {result.what} |")
    floor = session.results.get("floor")
    for query in QUERIES:
        lines += [
            "",
            f"## {query}: {WHAT[query]}",
            "",
            f"| system | p50 ms | p99 ms | n | {args.clients}-client req/s | p50 {TIMES} floor | "
            f"req/s {TIMES} floor | answer |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        fq = floor.queries.get(query) if floor else None
        for result in session.results.values():
            found = result.queries.get(query)
            if found is None or found.error or not found.latency or not found.throughput:
                why = (found.error if found else None) or result.error or "not run"
                lines.append(f"| {result.label} | {' | '.join([DASH] * 6)} | {why[:300]} |")
                continue
            lat, thr = found.latency, found.throughput
            n = f"{len(lat.samples)}" + (" (time cap)" if lat.stopped_early else "")
            tn = f"{thr.per_s:,.1f}" + (
                f" ({thr.requests} in {thr.seconds:.0f} s)" if thr.stopped_early else ""
            )
            lines.append(
                f"| {result.label} | {fmt_ms(lat.p50_ms)} | {fmt_ms(lat.p99_ms)} | {n} | {tn} | "
                f"{ratio(lat.p50_ms, fq.latency.p50_ms if fq and fq.latency else None)} | "
                f"{ratio(thr.per_s, fq.throughput.per_s if fq and fq.throughput else None)} | "
                f"{found.check} |"
            )
    lines += [
        "",
        "## Peak RSS of each server process (tree), over its turn",
        "",
        "| system | peak RSS MiB | start s (until ready to answer) |",
        "| --- | ---: | ---: |",
    ]
    for result in session.results.values():
        rss = f"{result.rss_mib:,.0f}" if result.rss_mib else DASH
        start = f"{result.start_s:.1f}" if result.start_s is not None else DASH
        lines.append(f"| {result.label} | {rss} | {start} |")
    if "headwater-pg" in session.results:
        lines += [
            "",
            "Headwater's PostgreSQL protocol is the same process as its HTTP face: its row is the "
            "peak while its queries ran; the HTTP face's includes loading the serving cache at "
            "start.",
        ]
    if session.streams:
        lines += [
            "",
            f"## {args.stream_rows:,} rows streamed to psycopg 3 (`select * ... limit "
            f"{args.stream_rows}`), median of {args.stream_runs}",
            "",
            "`libpq`: a client-side cursor's `execute()` (the server sends every row, libpq "
            "parses them; no Python objects). `python`: a server-side cursor (`DECLARE`/`FETCH` "
            f"{pgstream.ITERSIZE:,} at a time) iterated into Python tuples.",
            "",
            f"| server | mode | seconds (min{DASH}max) | rows/s | {TIMES} PostgreSQL "
            "| peak RSS MiB |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        pg = session.streams.get("postgres", {})
        for name, modes in session.streams.items():
            for mode, found in modes.items():
                label = "Headwater (PostgreSQL port)" if name == "headwater" else "PostgreSQL 15"
                rss = f"{session.stream_rss.get(name, 0):,.0f}"
                if found.error:
                    lines.append(
                        f"| {label} | {mode} | {DASH} | {DASH} | {DASH} | {found.error[:300]} |"
                    )
                    continue
                ref = pg.get(mode)
                base = ref.rows_per_s if ref and not ref.error else None
                lines.append(
                    f"| {label} | {mode} | {found.median_s:.2f} ({min(found.seconds):.2f}{DASH}"
                    f"{max(found.seconds):.2f}) | {found.rows_per_s:,.0f} | "
                    f"{ratio(found.rows_per_s, base)} | {rss} |"
                )
        lines.append("")
        lines.append(
            "PostgreSQL's RSS is the postmaster and its backends added up, shared buffers "
            "counted in each process that touched them."
        )
    lines += [
        "",
        "## Targets (issue 15), Headwater",
        "",
        "| target | measured | |",
        "| --- | --- | --- |",
    ]
    for target, figure, met in verdicts(session):
        lines.append(f"| {target} | {figure} | {met} |")
    notes = list(session.notes)
    for result in session.results.values():
        if result.error:
            notes.append(f"{result.label}: {result.error[:1500]}")
        notes += [f"{result.label}: {n}" for n in result.notes]
    if session.wrong:
        notes += [f"WRONG ANSWER {w}" for w in session.wrong]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main


def main() -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, help="write the markdown results here")
    parser.add_argument("--data", type=Path, default=DATA, help="where the data is kept")
    parser.add_argument("--systems", default=",".join(ALL_SYSTEMS), help="comma-separated")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--concurrent-requests", type=int, default=400)
    parser.add_argument("--phase-seconds", type=float, default=60.0)
    parser.add_argument("--stream-rows", type=int, default=1_000_000)
    parser.add_argument("--stream-runs", type=int, default=3)
    parser.add_argument("--debug", action="store_true", help="print tracebacks")
    args = parser.parse_args()
    args.data = args.data.resolve()
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(args.systems) - set(ALL_SYSTEMS)
    if unknown:
        parser.error(f"unknown systems {sorted(unknown)}; known: {', '.join(ALL_SYSTEMS)}")
    began = datetime.datetime.now().isoformat(timespec="minutes")
    clock = time.perf_counter()

    table = data.delta_table(args.data)
    files = data.snapshot_files(table)
    count = 1 + args.warmup + args.requests + args.concurrent_requests
    session = Session(args, make_params(files, count, args.seed))
    load = LoadWatch()

    # The floor always runs first: its answers are the reference.
    take_turn(session, systems.Floor(table))
    if "headwater" in args.systems:
        token = make_project(WORK / "project", args.data, max(args.stream_rows, 100_000) * 2)
        served = systems.Headwater(WORK / "project", TABLE, token, USER, PASSWORD)
        take_turn(session, served, then=lambda s: headwater_pg(session, s))
    if "roapi" in args.systems:
        try:
            take_turn(session, systems.Roapi(table, ensure_roapi()))
        except subprocess.CalledProcessError as exc:
            session.notes.append(f"roapi could not be installed: {exc}")
    if "datasette" in args.systems:
        try:
            binary = ensure_datasette()
            take_turn(session, systems.Datasette(data.sqlite_copy(args.data), binary))
        except subprocess.CalledProcessError as exc:
            session.notes.append(f"datasette could not be installed: {exc}")
    if "postgres" in args.systems:
        postgres_turn(session)

    text = report(session, load.stop(), began, time.perf_counter() - clock)
    print(text)
    if args.out:
        write_text(args.out, text)
        print(f"wrote {args.out}")
    if session.wrong:
        print("wrong answers:\n" + "\n".join(session.wrong), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
